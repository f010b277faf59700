"""The codec turns every payload into a row or a readable reason; it never raises."""

import json
import time

import pytest

from ingest.codec import Codec
from ingest.records import Reading, Rejected
from ingest.topics import Channel

NOW = 1_800_000_000.0
codec = Codec(max_payload_bytes=65536, future_tolerance_s=86400)


def decode(topic: str, payload: object) -> Reading | Rejected:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return codec.decode(topic, raw, NOW)


def test_vitals_become_a_row_with_epoch_seconds() -> None:
    r = decode("anxin/v1/w1/vitals", {"ts": NOW - 5, "seq": 3, "hr": 61, "spo2": 97})
    assert isinstance(r, Reading)
    assert r.channel is Channel.VITALS
    assert r.row[:5] == (NOW - 5, "w1", 3, 61.0, 97.0)


def test_rfc3339_timestamps_are_accepted_with_an_offset() -> None:
    r = decode("anxin/v1/w1/vitals", {"ts": "2027-01-15T08:00:00+08:00", "hr": 70})
    assert isinstance(r, Reading)
    assert r.ts.isoformat() == "2027-01-15T00:00:00+00:00"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "malformed"),
        (b'{"ts": 1700000000, "hr": NaN}', "malformed"),
        (b'{"ts": 1700000000, "hr": Infinity}', "malformed"),
        ({"ts": NOW, "hr": -3}, ">= 20.0"),
        ({"ts": NOW, "spo2": 101}, "<= 100.0"),
        ({"ts": NOW, "temp": 0}, ">= 25.0"),
        ({"ts": NOW + 2 * 86400, "hr": 70}, "in the future"),
        ({"ts": 0, "hr": 70}, "before 2000"),
        ({"ts": "2027-01-15T08:00:00", "hr": 70}, "no time zone"),
        ({"ts": NOW}, "no reading"),
        ({"hr": 70}, "missing required field `ts`"),
    ],
)
def test_impossible_vitals_are_rejected_with_a_reason(payload: object, reason: str) -> None:
    r = decode("anxin/v1/w1/vitals", payload)
    assert isinstance(r, Rejected)
    assert reason in r.reason
    assert r.device_id == "w1"


def test_oversized_payload_is_rejected_before_parsing() -> None:
    r = codec.decode("anxin/v1/w1/vitals", b"{" + b" " * 70_000 + b"}", time.time())
    assert isinstance(r, Rejected)
    assert "exceeds 65536" in r.reason


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("anxin/v1/w1/weather", "unknown channel"),
        ("anxin/v1/bad id/vitals", "is not [A-Za-z0-9_-]"),
        ("other/v1/w1/vitals", "is not anxin/v1"),
        ("anxin/v1/w1/vitals/extra", "is not anxin/v1"),
    ],
)
def test_bad_topics_are_rejected(topic: str, reason: str) -> None:
    r = decode(topic, {"ts": NOW, "hr": 70})
    assert isinstance(r, Rejected)
    assert reason in r.reason


def test_sos_and_fall_are_urgent_and_door_is_not() -> None:
    kinds = {
        t: decode("anxin/v1/b1/event", {"ts": NOW, "type": t}) for t in ("sos", "fall", "door_open")
    }
    assert {t: isinstance(r, Reading) and r.urgent for t, r in kinds.items()} == {
        "sos": True,
        "fall": True,
        "door_open": False,
    }


def test_event_key_prefers_id_then_seq_then_type() -> None:
    keys = [
        decode("anxin/v1/b1/event", p).row[3]  # type: ignore[union-attr]
        for p in (
            {"ts": NOW, "type": "sos", "id": "e-1", "seq": 9},
            {"ts": NOW, "type": "sos", "seq": 9},
            {"ts": NOW, "type": "sos"},
        )
    ]
    assert keys == ["e-1", "seq:9", "sos"]


def test_last_will_without_ts_is_stamped_on_arrival() -> None:
    r = decode("anxin/v1/w1/status", {"online": False})
    assert isinstance(r, Reading)
    assert r.row[0] == NOW
    assert r.row[2] is False
