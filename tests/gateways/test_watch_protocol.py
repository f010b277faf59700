"""The "3G" watch protocol without a network: frames out of any cut of the byte
stream, every alarm bit of a status word, replies with the index kept, escaped binary,
and nothing a device can send makes the parser raise anything but BadFrame."""

import contextlib
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateways.watch.protocol import (
    BadFrame,
    FrameSplitter,
    FrameTooLong,
    meaning,
    parse_frame,
    status_events,
    unescape,
)
from simulators.watch import POSITION, frame

NOW = 1_790_000_000.0
UD_BODY = POSITION


def said(raw: bytes) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    (body,) = FrameSplitter().feed(raw)
    return meaning(parse_frame(body), NOW).messages


def events(raw: bytes) -> list[str]:
    return [p["type"] for channel, p in said(raw) if channel == "event"]


def test_a_position_becomes_a_location_a_battery_and_steps_at_the_watchs_time() -> None:
    messages = dict(said(frame("UD," + UD_BODY.format(status="00000000"))))
    ts = datetime(2026, 11, 22, 8, 30, 15, tzinfo=UTC).timestamp()
    assert messages["location"] == {"ts": ts, "lat": 30.5928, "lon": 114.3055}
    assert messages["status"] == {"ts": ts, "battery": 62.0}
    assert messages["vitals"] == {"ts": ts, "steps": 1234}
    assert "event" not in messages


def test_southern_and_western_hemispheres_are_negative_and_an_invalid_fix_is_no_location() -> None:
    south = UD_BODY.format(status="0").replace(",N,", ",S,").replace(",E,", ",W,")
    (location,) = [p for c, p in said(frame("UD," + south)) if c == "location"]
    assert (location["lat"], location["lon"]) == (-30.5928, -114.3055)
    invalid = UD_BODY.format(status="0").replace(",A,", ",V,")
    assert [c for c, _ in said(frame("UD," + invalid))] == ["status", "vitals"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("00010000", ["sos"]),  # bit 16
        ("00200000", ["fall"]),  # bit 21
        ("00400000", ["fall"]),  # bit 22
        ("00100000", ["removed"]),  # bit 20
        ("00000002", ["geofence_exit"]),  # bit 1
        ("00080000", ["geofence_enter"]),  # bit 19
        ("00000001", ["battery_low"]),  # bit 0
        ("00020000", ["battery_low"]),  # bit 17
        ("00004000", ["power_cut"]),  # bit 14
        # all at once: none is lost behind another (the if/else trap)
        ("00330001", ["sos", "battery_low", "fall", "removed"]),
        ("00010001", ["sos", "battery_low"]),  # SOS with low battery
        ("00000000", ["alarm"]),  # an alarm frame that names nothing is still an alarm
    ],
)
def test_every_alarm_bit_of_the_status_word_is_an_event(status: str, expected: list[str]) -> None:
    assert events(frame("AL," + UD_BODY.format(status=status))) == expected


def test_a_repeated_alarm_has_the_same_event_id_so_it_is_stored_once() -> None:
    first = [
        p["id"] for c, p in said(frame("AL," + UD_BODY.format(status="10000"))) if c == "event"
    ]
    again = [
        p["id"] for c, p in said(frame("AL," + UD_BODY.format(status="10000"))) if c == "event"
    ]
    assert (
        first
        == again
        == [f"AL-{int(datetime(2026, 11, 22, 8, 30, 15, tzinfo=UTC).timestamp())}-sos"]
    )


def test_status_events_reads_bits_not_a_chain() -> None:
    word = (1 << 16) | (1 << 17) | (1 << 20) | (1 << 22) | (1 << 2)
    assert [e["type"] for e in status_events(word, "AL", NOW)] == [
        "sos", "battery_low", "fall", "removed", "geofence_enter"]  # fmt: skip


def test_alarms_keepalives_and_voice_queries_get_their_replies_with_the_index_kept() -> None:
    (body,) = FrameSplitter().feed(frame("AL," + UD_BODY.format(status="10000"), index="00A1"))
    assert meaning(parse_frame(body), NOW).reply == b"[3G*8800000015*00A1*0002*AL]"
    (body,) = FrameSplitter().feed(frame("AL_LTE," + UD_BODY.format(status="0")))
    assert meaning(parse_frame(body), NOW).reply == b"[3G*8800000015*0002*AL]"
    (body,) = FrameSplitter().feed(frame("LK,50,100,85"))
    link = meaning(parse_frame(body), NOW)
    assert link.reply == b"[3G*8800000015*0002*LK]"
    assert link.messages == [
        ("status", {"ts": NOW, "online": True, "battery": 85.0}),
        ("vitals", {"ts": NOW, "steps": 50}),
    ]
    (body,) = FrameSplitter().feed(frame("TKQ"))
    assert meaning(parse_frame(body), NOW).reply == b"[3G*8800000015*0003*TKQ]"
    (body,) = FrameSplitter().feed(frame("UD," + UD_BODY.format(status="0")))
    assert meaning(parse_frame(body), NOW).reply is None  # positions are not answered


@pytest.mark.parametrize(
    ("content", "vitals"),
    [
        ("bphrt,128,82,71,,,,", {"sbp": 128.0, "dbp": 82.0, "hr": 71.0}),
        ("BLOOD,150,95", {"sbp": 150.0, "dbp": 95.0}),
        ("heart,66", {"hr": 66.0}),
        ("PULSE,0", None),  # 0: not measured
        ("btemp2,1,36.8", {"temp": 36.8}),
        ("btemp2,0,36.8", None),  # flag 0: no temperature
        ("oxygen,1,97", {"spo2": 97.0}),  # oxygen,<flag>,<spo2>
        ("oxygen,97", {"spo2": 97.0}),  # an older firmware's, without the flag
        ("TEMP,36.6", {"temp": 36.6}),
    ],
)
def test_measurements_become_vitals_at_the_time_they_arrive(
    content: str, vitals: dict[str, float] | None
) -> None:
    expected = [("vitals", {"ts": NOW, **vitals})] if vitals else []
    assert said(frame(content)) == expected


def test_frames_are_split_by_brackets_however_they_arrive_and_a_wrong_len_is_ignored() -> None:
    stream = frame("LK", length="00FF") + b"noise" + frame("heart,70") + frame("TKQ")
    for cut in range(1, len(stream)):
        splitter = FrameSplitter()
        bodies = splitter.feed(stream[:cut]) + splitter.feed(stream[cut:])
        assert [parse_frame(b).kind for b in bodies] == ["LK", "heart", "TKQ"], cut
    one_byte_at_a_time = FrameSplitter()
    bodies = [b for k in range(len(stream)) for b in one_byte_at_a_time.feed(stream[k : k + 1])]
    assert len(bodies) == 3


def test_a_frame_cut_short_is_garbage_and_the_next_one_still_counts() -> None:
    splitter = FrameSplitter()
    bodies = splitter.feed(b"[3G*8800000015*0002*LK" + frame("heart,70"))
    assert [parse_frame(b).kind for b in bodies] == ["heart"]
    splitter.feed(b"x" * 100)
    assert splitter.garbage == 100


def test_an_endless_frame_is_refused_and_nothing_is_held() -> None:
    splitter = FrameSplitter(max_frame=1000)
    splitter.feed(b"[3G*1*0000*TK," + b"a" * 500)
    with pytest.raises(FrameTooLong):
        splitter.feed(b"a" * 600)
    assert splitter.holding == 0


def test_escaped_binary_is_unescaped_and_its_brackets_do_not_end_the_frame() -> None:
    voice = bytes([0x7D, 0x01, 0x7D, 0x02, 0x7D, 0x03, 0x7D, 0x04, 0x7D, 0x05, 0xFF])
    assert unescape(voice) == b"}[],*\xff"
    (body,) = FrameSplitter().feed(b"[3G*8800000015*000C*TK," + voice + b"]")
    parsed = parse_frame(body)
    assert (parsed.kind, parsed.content) == ("TK", b"}[],*\xff")
    assert meaning(parsed, NOW).messages == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"3G*8800000015", "not MF*ID*LEN*CONTENT"),
        (b"3G*88000 0015*0002*LK", "device id"),
        (b"3GX*8800000015*0002*LK", "maker code"),
        (b"3G*8800000015*0002*L K", "content type"),
    ],
)
def test_a_malformed_frame_is_a_bad_frame_with_the_reason(body: bytes, reason: str) -> None:
    with pytest.raises(BadFrame, match=re.escape(reason)):
        parse_frame(body)


def test_a_position_with_missing_or_wrong_fields_is_a_bad_frame() -> None:
    for content in ("UD,221126,083015,A", "UD," + UD_BODY.format(status="zz"),
                    "UD," + UD_BODY.format(status="0").replace("30.5928", "95.1")):  # fmt: skip
        (body,) = FrameSplitter().feed(frame(content))
        with pytest.raises(BadFrame):
            meaning(parse_frame(body), NOW)


# -- fuzz: nothing escapes but BadFrame -------------------------------------------------

_PIECES = st.sampled_from(
    [b"[", b"]", b"*", b",", b"3G", b"8800000015", b"0002", b"00A1", b"UD", b"AL", b"LK",
     b"bphrt", b"btemp2", b"oxygen", b"TKQ", b"\x7d", b"\x7d\x01", b"A", b"N", b"E", b"-",
     b"1.5", b"nan", b"inf", b"1e400", b"221126", b"083015", b"ffffffff", b"\x00", b"\xff"]
)  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.binary(max_size=12)), max_size=60), st.integers(1, 40))
def test_fuzz_no_byte_stream_makes_the_splitter_or_the_parser_raise_anything_else(
    pieces: list[bytes], cut: int
) -> None:
    stream = b"".join(pieces)
    splitter = FrameSplitter(max_frame=256)
    for k in range(0, len(stream), cut):
        try:
            bodies = splitter.feed(stream[k : k + cut])
        except FrameTooLong:
            continue
        assert splitter.holding <= 256 + cut
        for body in bodies:
            with contextlib.suppress(BadFrame):
                meaning(parse_frame(body), NOW)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["UD", "AL", "UD_LTE", "bphrt", "btemp2", "heart", "oxygen", "LK"]),
    st.lists(st.one_of(st.text(max_size=8), st.sampled_from(["", "0", "A", "N", "E", "ff"])),
             max_size=24),
)  # fmt: skip
def test_fuzz_any_fields_of_a_known_type_are_read_or_refused_as_a_bad_frame(
    kind: str, fields: list[str]
) -> None:
    content = ",".join([kind, *fields]).encode("utf-8", "replace")
    body = b"3G*8800000015*0001*" + content.replace(b"]", b"").replace(b"[", b"")
    with contextlib.suppress(BadFrame):
        meaning(parse_frame(body), NOW)


def test_a_vendor_keyword_that_begins_as_a_position_is_one_and_its_alarm_is_answered() -> None:
    """ALCUSTOMER1, UDX and WTSOMETHING: vendors' own suffixes on the position keywords.
    Dropped, the SOS bit would be lost and the watch would repeat it unanswered."""
    (body,) = FrameSplitter().feed(frame("ALCUSTOMER1," + UD_BODY.format(status="10000")))
    custom = meaning(parse_frame(body), NOW)
    assert custom.reply == b"[3G*8800000015*0002*AL]"
    assert [p["type"] for c, p in custom.messages if c == "event"] == ["sos"]
    assert "location" in dict(custom.messages)
    for kind in ("UDX", "WTSOMETHING"):
        assert "location" in dict(said(frame(f"{kind}," + UD_BODY.format(status="0"))))


def test_a_position_frame_that_is_no_alarm_raises_none_for_an_empty_status() -> None:
    assert events(frame("UD," + UD_BODY.format(status="00000000"))) == []
