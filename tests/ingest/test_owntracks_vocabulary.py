"""OwnTracks as its booklet documents it, message type by message type and field by
field: what Anxin stores of each, what it ignores on purpose, and what it refuses with
a reason. The messages are written here from the documented fields, with values of our
own; `test_adapters.py` sends the same kinds through a real broker to `anxin serve`."""

import json
from typing import Any

import pytest

from devices.models import DeviceKind
from ingest.adapters.names import DeviceNames, Known
from ingest.adapters.owntracks import OwnTracks
from ingest.canonical import Codec
from ingest.decoding import Decoder
from ingest.records import Ignored, Reading, Rejected

NOW = 1_790_000_000.0
TST = int(NOW) - 60
PHONE = "owntracks/wang/pixel"
# every field the booklet lists for a location (iOS and Android together)
LOCATION = {
    "_type": "location", "lat": 30.5931, "lon": 114.3054, "tst": TST, "acc": 12, "alt": 21,
    "batt": 54, "bs": 1, "cog": 270, "rad": 0, "t": "u", "tid": "WX", "vac": 3, "vel": 0,
    "p": 101.2, "poi": "家", "conn": "w", "tag": "walk", "topic": PHONE,
    "inregions": ["家"], "inrids": ["a1b2"], "SSID": "home", "BSSID": "aa:bb:cc:dd:ee:01",
    "created_at": TST, "m": 2, "_id": "6f3a",
}  # fmt: skip
TRANSITION = {
    "_type": "transition", "wtst": TST - 86_400, "lat": 30.6012, "lon": 114.3021, "tst": TST,
    "acc": 25, "tid": "WX", "event": "leave", "desc": "家", "t": "c", "rid": "a1b2",
}  # fmt: skip


def stored(topic: str, message: dict[str, Any]) -> list[str] | str:
    """What Anxin makes of `message` on `topic`: its readings in short, `ignored`, or
    the dead letter's reason code."""
    names = DeviceNames(ttl_s=1e9)
    names.remember("owntracks", "wang/pixel", Known("phone-wang", DeviceKind.PHONE))
    decoder = Decoder(Codec(max_payload_bytes=65536, future_tolerance_s=86400), (OwnTracks(names),))
    got = decoder.translate(topic, json.dumps(message).encode(), NOW)
    parts = got if isinstance(got, tuple) else (got,)
    if any(isinstance(p, Ignored) for p in parts):
        return "ignored"
    refused = [p.code for p in parts if isinstance(p, Rejected)]
    if refused:
        return refused[0]
    return sorted(_short(p) for p in parts if isinstance(p, Reading))


def _short(reading: Reading) -> str:
    row = reading.row
    if reading.channel == "location":
        return f"location {row[3]} {row[4]} ±{row[5]}"
    if reading.channel == "event":
        return f"event {row[2]}"
    return f"{reading.channel}"


CORPUS: list[tuple[str, str, dict[str, Any], list[str] | str]] = [
    ("a location with every documented field", PHONE, LOCATION,
     ["location 30.5931 114.3054 ±12.0", "status"]),
    *[(f"a location triggered by {t!r}", PHONE, {**LOCATION, "t": t},
       ["location 30.5931 114.3054 ±12.0", "status"]) for t in "pcbrutv"],
    ("a location without acc and batt (the app leaves out zeros)", PHONE,
     {"_type": "location", "lat": 30.5931, "lon": 114.3054, "tst": TST},
     ["location 30.5931 114.3054 ±None"]),
    ("a location without lat", PHONE, {"_type": "location", "lon": 114.3, "tst": TST},
     "owntracks_location_lacks"),
    ("a location at 0,0: no fix yet", PHONE, {**LOCATION, "lat": 0, "lon": 0}, "no_fix"),
    ("a cell tower's guess", PHONE, {**LOCATION, "acc": 25_000}, "too_rough"),
    ("a clock not set", PHONE, {**LOCATION, "tst": 0}, "ts_before_2000"),
    ("leaving a region", f"{PHONE}/event", TRANSITION,
     ["event geofence_exit", "location 30.6012 114.3021 ±25.0"]),
    ("entering a beacon's region", f"{PHONE}/event", {**TRANSITION, "event": "enter", "t": "b"},
     ["event geofence_enter", "location 30.6012 114.3021 ±25.0"]),
    ("a crossing without a place", f"{PHONE}/event",
     {"_type": "transition", "event": "enter", "tst": TST, "desc": "家"}, ["event geofence_enter"]),
    ("a crossing that is neither enter nor leave", f"{PHONE}/event",
     {**TRANSITION, "event": "stay"}, "owntracks_bad_transition"),
    ("something other than a crossing on the event topic", f"{PHONE}/event", LOCATION,
     "owntracks_not_transition"),
    ("the step counter", f"{PHONE}/step",
     {"_type": "steps", "tst": TST, "steps": 3120, "distance": 2200, "floorsup": 2,
      "floorsdown": 2, "from": TST - 86_400, "to": TST}, ["vitals"]),
    ("a step report the phone could not count", f"{PHONE}/step",
     {"_type": "steps", "tst": TST, "steps": -1}, "owntracks_bad_steps"),
    ("the last will", PHONE, {"_type": "lwt", "tst": TST - 3600}, ["status"]),
    ("encryption on", PHONE, {"_type": "encrypted", "data": "c2VhbGVk"}, "owntracks_encrypted"),
    ("encryption on, on the event topic", f"{PHONE}/event",
     {"_type": "encrypted", "data": "c2VhbGVk"}, "owntracks_encrypted"),
    *[(f"the app's {kind}", PHONE, {"_type": kind}, "ignored") for kind in (
        "card", "cmd", "configuration", "dump", "request", "status", "waypoint", "waypoints",
        "beacon")],
    ("a type the booklet does not have", PHONE, {"_type": "heartbeat", "tst": TST},
     "owntracks_unknown_type"),
    ("no type at all", PHONE, {"lat": 30.5, "lon": 114.3, "tst": TST}, "owntracks_no_type"),
    ("a topic the app publishes settings on", f"{PHONE}/waypoint", {"_type": "waypoint"},
     "ignored"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "topic", "message", "expected"), CORPUS,
                         ids=[c[0] for c in CORPUS])  # fmt: skip
def test_each_documented_message_is_stored_ignored_or_refused_as_it_should(
    what: str, topic: str, message: dict[str, Any], expected: list[str] | str
) -> None:
    assert stored(topic, message) == expected
