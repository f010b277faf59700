"""The codec turns every payload into a row or a reason of the project's own (a code, its
values, words in both languages); it never raises."""

import functools
import json
import time

import msgspec
import pytest

from ingest.canonical import Codec
from ingest.records import Reading, Rejected
from ingest.refusals import WORDS, Refusal, lacking, render
from ingest.topics import Channel
from kernel.language import Lang

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
    ("payload", "code", "values"),
    [
        (b"{not json", Refusal.NOT_JSON, {}),
        (b'{"ts": 1700000000, "hr": NaN}', Refusal.NOT_FINITE, {}),
        (b'{"ts": 1700000000, "hr": -Infinity}', Refusal.NOT_FINITE, {}),
        ({"ts": NOW, "hr": -3}, Refusal.FIELD_OUT_OF_RANGE, {"field": "hr", "min": 20}),
        ({"ts": NOW, "spo2": 101}, Refusal.FIELD_OUT_OF_RANGE, {"field": "spo2", "max": 100}),
        ({"ts": NOW, "temp": 0}, Refusal.FIELD_OUT_OF_RANGE, {"value": 0, "min": 25, "max": 45}),
        ({"ts": NOW, "hr": "70"}, Refusal.FIELD_WRONG_TYPE, {"field": "hr", "expected": "number"}),
        ({"ts": "yesterday", "hr": 70}, Refusal.FIELD_WRONG_TYPE, {"expected": "time"}),
        ({"ts": NOW + 2 * 86400, "hr": 70}, Refusal.TS_FUTURE, {"tolerance_s": 86400}),
        ({"ts": 0, "hr": 70}, Refusal.TS_BEFORE_2000, {"ts": 0}),
        ({"ts": "2027-01-15T08:00:00", "hr": 70}, Refusal.TS_NO_ZONE, {}),
        ({"ts": NOW}, Refusal.NO_READING, {}),
        ({"hr": 70}, Refusal.FIELD_MISSING, {"field": "ts"}),
        ([{"ts": NOW, "hr": 70}], Refusal.NOT_OBJECT, {"got": "array"}),
    ],
)
def test_impossible_vitals_are_rejected_with_a_code_and_its_values(
    payload: object, code: Refusal, values: dict[str, object]
) -> None:
    r = decode("anxin/v1/w1/vitals", payload)
    assert isinstance(r, Rejected)
    assert r.code is code
    assert values.items() <= r.values.items()
    assert r.device_id == "w1"
    assert not lacking(r.code, r.values)  # every value the words use is there


def test_an_unknown_event_type_and_an_overlong_id_are_named() -> None:
    r = decode("anxin/v1/b1/event", {"ts": NOW, "type": "teleport"})
    assert isinstance(r, Rejected)
    assert (r.code, r.values["value"]) == (Refusal.UNKNOWN_EVENT_TYPE, "teleport")
    r = decode("anxin/v1/b1/event", {"ts": NOW, "type": "door_open", "id": "x" * 200})
    assert isinstance(r, Rejected)
    assert (r.code, r.values["field"], r.values["max"]) == (Refusal.FIELD_TOO_LONG, "id", 128)
    assert render(r.code, r.values, Lang.ZH) == "事件报文字段 id 长度应在 1-128 之间"


UNREADABLE = [
    (b'{"ts": 1800000000, "type": "door_open", "id": "\xff"}', Refusal.NOT_UTF8),
    (b'{"ts": 1800000000, "hr": 70, "x": ' + b"[" * 2000 + b"]" * 2000 + b"}", Refusal.TOO_DEEP),
    (b'{"ts": 1800000000, "hr": 70,', Refusal.NOT_JSON),
    (b'{"ts": 1800000000, "hr": NaN}', Refusal.NOT_FINITE),
    (b'{"ts": 1800000000, "fw": "\\udc00"}', Refusal.LONE_SURROGATE),
]


class _Reworded:
    """A decoder of some later release: it refuses the same bytes in other words."""

    def __init__(self, error: type[Exception]) -> None:
        self.error = error

    def decode(self, _payload: bytes) -> object:
        raise self.error("Reworded: the parser said something new")


@pytest.mark.parametrize("error", [msgspec.DecodeError, RecursionError, UnicodeDecodeError])
@pytest.mark.parametrize(("payload", "code"), UNREADABLE)
def test_unreadable_payloads_get_the_projects_reason_whatever_the_decoder_says(
    monkeypatch: pytest.MonkeyPatch, payload: bytes, code: Refusal, error: type[Exception]
) -> None:
    if error is UnicodeDecodeError:
        error = functools.partial(UnicodeDecodeError, "utf-8", b"", 0, 1)  # type: ignore[assignment]
    channel = Channel.STATUS if code is Refusal.LONE_SURROGATE else Channel.EVENT
    honest = codec.decode(f"anxin/v1/w1/{channel}", payload, NOW)
    reworded = {c: _Reworded(error) for c in Channel}
    monkeypatch.setattr("ingest.canonical._DECODERS", reworded)
    monkeypatch.setattr("ingest.diagnosis._decode_any", reworded[Channel.VITALS].decode)
    after = codec.decode(f"anxin/v1/w1/{channel}", payload, NOW)
    for r in (honest, after):
        assert isinstance(r, Rejected)
        assert r.code is code
        assert "Reworded" not in r.reason
        assert render(r.code, r.values, Lang.ZH).startswith(("事件报文", "状态报文"))


def test_oversized_payload_is_rejected_before_parsing() -> None:
    r = codec.decode("anxin/v1/w1/vitals", b"{" + b" " * 70_000 + b"}", time.time())
    assert isinstance(r, Rejected)
    assert r.code is Refusal.TOO_LARGE
    assert r.values == {"bytes": 70_002, "limit": 65536}
    assert r.reason == "payload of 70002 bytes exceeds 65536"


@pytest.mark.parametrize(
    ("topic", "code"),
    [
        ("anxin/v1/w1/weather", Refusal.UNKNOWN_CHANNEL),
        ("anxin/v1/bad id/vitals", Refusal.BAD_DEVICE_ID),
        ("other/v1/w1/vitals", Refusal.BAD_TOPIC),
        ("anxin/v1/w1/vitals/extra", Refusal.BAD_TOPIC),
    ],
)
def test_bad_topics_are_rejected(topic: str, code: Refusal) -> None:
    r = decode(topic, {"ts": NOW, "hr": 70})
    assert isinstance(r, Rejected)
    assert r.code is code


def test_every_refusal_has_words_in_both_languages() -> None:
    assert set(WORDS) == set(Refusal)


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


@pytest.mark.parametrize(
    ("where", "code", "values"),
    [
        ({"lat": 0, "lon": 0}, Refusal.NO_FIX, {}),
        ({"lat": 0.0, "lon": 0.0, "acc": 10}, Refusal.NO_FIX, {}),
        ({"lat": 30.6, "lon": 114.3, "acc": 20_000}, Refusal.TOO_ROUGH, {"limit": 5000}),
    ],
)
def test_a_position_that_is_no_fix_or_too_rough_is_refused_with_its_reason(
    where: dict[str, float], code: Refusal, values: dict[str, object]
) -> None:
    r = decode("anxin/v1/w1/location", {"ts": NOW, **where})
    assert isinstance(r, Rejected)
    assert r.code is code
    assert values.items() <= r.values.items()


def test_a_fix_on_the_equator_or_the_meridian_alone_is_a_place() -> None:
    for lat, lon in [(0.0, 114.3), (30.6, 0.0)]:
        assert isinstance(
            decode("anxin/v1/w1/location", {"ts": NOW, "lat": lat, "lon": lon}), Reading
        )
