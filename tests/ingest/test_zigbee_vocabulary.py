"""Zigbee2MQTT's vocabulary, form by form: each state or action a converter publishes for
an alarm, an emergency, a fall or a presence (written from Zigbee2MQTT's device pages
and the exposes its converters declare), on a device of the kind an installer would
register it as, and the events Anxin makes of it. In process, through the decoder and
the canonical codec; `test_adapters.py` sends the kinds through the broker."""

import json
import time
from typing import Any

import pytest

from devices.models import DeviceKind
from ingest.adapters.names import DeviceNames, Known
from ingest.adapters.zigbee2mqtt import HOLD_OFF_S, Zigbee2Mqtt
from ingest.canonical import Codec
from ingest.decoding import Decoder
from ingest.records import Reading

NOW = time.time()
K = DeviceKind

CORPUS: list[tuple[str, DeviceKind, dict[str, Any], list[str]]] = [
    # IAS zones named by their type
    ("a water leak sensor", K.WATER, {"water_leak": True, "battery_low": False}, ["water_leak"]),
    ("a flood sensor exposing water", K.WATER, {"water": True}, ["water_leak"]),
    ("a smoke detector", K.SMOKE, {"smoke": True, "tamper": False}, ["smoke"]),
    ("a gas detector", K.GAS, {"gas": True}, ["gas"]),
    ("a CO detector", K.GAS, {"carbon_monoxide": True}, ["carbon_monoxide"]),
    ("a gas and CO alarm", K.GAS, {"gas": False, "carbon_monoxide": True}, ["carbon_monoxide"]),
    ("a pendant's SOS zone", K.SOS_BUTTON, {"sos": True}, ["sos"]),
    ("a tampered sensor", K.DOOR, {"tamper": True}, ["tamper"]),
    # generic zones: alarm_1 / alarm_2, read by the device's kind
    ("a pendant's generic zone", K.SOS_BUTTON, {"alarm_1": True, "alarm_2": False}, ["sos"]),
    ("a smoke detector's generic zone", K.SMOKE, {"alarm_1": True}, ["smoke"]),
    ("a water sensor's generic zone", K.WATER, {"alarm_2": True}, ["water_leak"]),
    ("a PIR's generic zone", K.MOTION, {"alarm_1": True}, ["motion"]),
    ("an alarm of no stated kind", K.BUTTON, {"alarm": True}, ["alarm"]),
    # zones named in the property
    ("an SOS zone", K.BUTTON, {"sos_alarm_1": True}, ["sos"]),
    ("an emergency zone", K.BUTTON, {"emergency_alarm_2": True}, ["sos"]),
    ("a fire zone", K.BUTTON, {"fire_alarm_1": True}, ["smoke"]),
    ("a water zone", K.BUTTON, {"water_alarm_1": True}, ["water_leak"]),
    ("a CO zone", K.BUTTON, {"co_alarm_1": True}, ["carbon_monoxide"]),
    ("a fall zone", K.BUTTON, {"fall_alarm_1": True}, ["fall"]),
    ("a zone nobody named", K.BUTTON, {"vendor_alarm_1": True}, ["alarm"]),
    # actions: IAS ACE keypads and pendants
    ("an emergency action", K.BUTTON, {"action": "emergency"}, ["sos"]),
    ("an SOS action", K.BUTTON, {"action": "sos"}, ["sos"]),
    ("a panic action", K.BUTTON, {"action": "panic"}, ["sos"]),
    ("an endpoint's emergency", K.BUTTON, {"action": "emergency_1"}, ["sos"]),
    ("a press of an SOS button", K.SOS_BUTTON, {"action": "single"}, ["sos"]),
    ("a press of another button", K.BUTTON, {"action": "single"}, ["button"]),
    # presence radars, vibration, falls
    ("a radar's presence", K.MOTION, {"presence": True, "target_distance": 1.2}, ["motion"]),
    ("a bed's vibration", K.BED, {"vibration": True, "strength": 7}, ["motion"]),
    ("a radar's fall", K.MOTION, {"presence": True, "fall_down_status": "fall"},
     ["motion", "fall"]),
    ("a radar seeing no fall", K.MOTION, {"presence": False, "fall_down_status": "normal"}, []),
    # alarms cleared: nothing
    ("a clear smoke detector", K.SMOKE, {"smoke": False, "battery": 90}, []),
    ("a clear generic zone", K.SOS_BUTTON, {"alarm_1": False}, []),
]  # fmt: skip


def decoder_for(kind: DeviceKind) -> Decoder:
    names = DeviceNames(ttl_s=1e9)
    names.remember("zigbee2mqtt", "home/dev", Known("dev", kind))
    return Decoder(Codec(max_payload_bytes=65536, future_tolerance_s=86400), (Zigbee2Mqtt(names),))


def events(decoder: Decoder, state: dict[str, Any], ts_ms: float) -> list[str]:
    payload = json.dumps({**state, "last_seen": ts_ms}).encode()
    outcomes = decoder.translate("zigbee2mqtt/home/dev", payload, NOW)
    outcomes = outcomes if isinstance(outcomes, tuple) else (outcomes,)
    return [str(o.row[2]) for o in outcomes if isinstance(o, Reading) and o.channel == "event"]


@pytest.mark.parametrize(("what", "kind", "state", "expected"), CORPUS, ids=[c[0] for c in CORPUS])
def test_each_documented_form_becomes_its_event(
    what: str, kind: DeviceKind, state: dict[str, Any], expected: list[str]
) -> None:
    assert events(decoder_for(kind), state, NOW * 1000) == expected, what


def test_an_alarm_that_stays_true_is_reported_again_after_the_hold_off_only() -> None:
    decoder = decoder_for(K.SOS_BUTTON)
    start = (NOW - 600) * 1000
    assert events(decoder, {"alarm_1": True}, start) == ["sos"]
    assert events(decoder, {"alarm_1": True}, start + 10_000) == []  # the same state again
    later = start + (HOLD_OFF_S + 1) * 1000
    assert events(decoder, {"alarm_1": True}, later) == ["sos"]  # a later press
    assert events(decoder, {"alarm_1": False}, later + 1000) == []
    assert events(decoder, {"alarm_1": True}, later + 2000) == ["sos"]  # pressed again
