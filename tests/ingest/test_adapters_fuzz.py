"""Property-based fuzz of the Zigbee2MQTT and OwnTracks adapters behind the decoder:
whatever a topic and payload hold, decoding returns an outcome (readings, a dead letter
with its reason, ignored, or a name to look up) and raises nothing; every reading it
returns passed the canonical codec's checks. Bounded examples, a few seconds in CI."""

import json
import math
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.models import DeviceKind
from ingest.adapters.names import DeviceNames, Known
from ingest.adapters.owntracks import OwnTracks
from ingest.adapters.zigbee2mqtt import Zigbee2Mqtt
from ingest.canonical import Codec
from ingest.decoding import Decoder
from ingest.records import Foreign, Ignored, Reading, Rejected, Unresolved
from ingest.refusals import lacking

NOW = time.time()

names = DeviceNames(ttl_s=1e9)
for protocol, name, kind in [
    ("zigbee2mqtt", "home/door", DeviceKind.DOOR),
    ("zigbee2mqtt", "home/sos", DeviceKind.SOS_BUTTON),
    ("owntracks", "wang/pixel", DeviceKind.PHONE),
]:
    names.remember(protocol, name, Known(f"dev-{kind}", kind))
names.remember("zigbee2mqtt", "home/ghost", None)
decoder = Decoder(
    Codec(max_payload_bytes=64 * 1024, future_tolerance_s=86_400),
    (Zigbee2Mqtt(names), OwnTracks(names)),
)

KEYS = ["contact", "occupancy", "battery", "battery_low", "tamper", "water_leak", "smoke",
        "gas", "sos", "action", "last_seen", "linkquality", "_type", "lat", "lon", "tst",
        "acc", "batt", "event", "desc", "rid", "state", "vel", "carbon_monoxide", "water",
        "alarm", "alarm_1", "alarm_2", "sos_alarm_1", "presence", "vibration",
        "fall_down_status", "steps", "from", "to", "data"]  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["single", "emergency", "hold", "location", "transition", "lwt",
                     "enter", "leave", "online", "offline", "2026-11-24T08:00:00Z",
                     "panic", "emergency_1", "fall", "encrypted", "steps"]),
)  # fmt: skip
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
objects = st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), values,
                          max_size=8)  # fmt: skip
TOPICS = st.sampled_from([
    "zigbee2mqtt/home/door", "zigbee2mqtt/home/sos", "zigbee2mqtt/home/door/availability",
    "zigbee2mqtt/home/ghost", "zigbee2mqtt/unknown", "zigbee2mqtt/bridge/state",
    "zigbee2mqtt/home/door/set", "owntracks/wang/pixel", "owntracks/wang/pixel/event",
    "owntracks/wang/pixel/cmd", "owntracks/x", "owntracks//", "zigbee2mqtt/",
    "owntracks/wang/pixel/step",
])  # fmt: skip


def _json(value: Any) -> bytes:
    def clean(v: Any) -> Any:  # JSON has no NaN: let some through as the text devices send
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        if isinstance(v, list):
            return [clean(x) for x in v]
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        return v

    return json.dumps(clean(value)).encode()


# Messages shaped like the real ones, each field sometimes right and sometimes anything:
# random objects alone almost never reach the code past the first check.
near = st.one_of(values, st.floats(-200, 2e12), st.integers(int(NOW) - 10**6, int(NOW) + 10))
z2m_state = st.fixed_dictionaries(
    {}, optional={k: st.one_of(near, st.booleans()) for k in KEYS[:11]}
)
location = st.fixed_dictionaries(
    {"_type": st.just("location"), "lat": near, "lon": near, "tst": near},
    optional={"acc": near, "batt": near, "vel": near, "tid": values},
)
transition = st.fixed_dictionaries(
    {"_type": st.just("transition"), "tst": near,
     "event": st.one_of(st.sampled_from(["enter", "leave"]), values)},
    optional={"desc": values, "rid": values, "lat": near, "lon": near, "acc": near},
)  # fmt: skip
payloads = st.one_of(
    st.one_of(z2m_state, location, transition, objects).map(_json),
    values.map(_json),
    st.binary(max_size=60),
)


def check(topic: str, payload: bytes) -> None:
    decoded = decoder.decode(topic, payload, NOW)  # on the MQTT thread
    if isinstance(decoded, Foreign):  # ... and on the writer
        decoded = decoder.translate(topic, payload, NOW)
    parts = decoded if isinstance(decoded, tuple) else (decoded,)
    for part in parts:
        assert isinstance(part, Reading | Rejected | Ignored | Unresolved), part
        if isinstance(part, Rejected):  # the project's words, every value in its place
            assert not lacking(part.code, part.values)
        if isinstance(part, Reading):
            assert part.device_id.startswith("dev-")
            assert math.isfinite(part.row[0])  # type: ignore[arg-type]


@settings(max_examples=1500, deadline=None)
@given(TOPICS, payloads)
def test_fuzz_no_topic_and_payload_makes_an_adapter_raise(topic: str, payload: bytes) -> None:
    check(topic, payload)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.binary(max_size=40))
def test_fuzz_any_topic_under_the_adapters_roots_is_decoded_or_refused(
    rest: str, payload: bytes
) -> None:
    check(f"zigbee2mqtt/{rest}", payload)
    check(f"owntracks/{rest}", payload)
