"""The text protocol of many elderly and children's "3G" watches, as far as Anxin needs
it: frames out of a byte stream, and each frame's canonical messages and reply.

The facts come from Traccar's `WatchProtocolDecoder` and `WatchFrameDecoder` (the
public reference; no code taken): a frame is `[MF*ID*LEN*CONTENT]` or
`[MF*ID*INDEX*LEN*CONTENT]`, MF a two-character maker code (3G, SG, ZJ, CS...), LEN
four hex digits that devices often get wrong, so brackets, not LEN, delimit a frame.
Binary content (voice `TK`, images) escapes `}` `[` `]` `,` `*` as 0x7D followed by
0x01-0x05. Content is `TYPE,field,...`. A reply is a frame of the same shape (index
kept when the device sent one).
"""

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kernel.types import is_device_id

MAX_FRAME = 64 * 1024  # bytes between brackets: a voice frame is the largest a watch sends
_ESCAPED = {1: 0x7D, 2: 0x5B, 3: 0x5D, 4: 0x2C, 5: 0x2A}
_HEX4 = re.compile(rb"^[0-9A-Fa-f]{4}$")
_MAKER = re.compile(rb"^[0-9A-Za-z]{2}$")
_KIND = re.compile(r"^[A-Za-z0-9_]{1,16}$")

# status word bits (a position's 16th field, hex), as the widely used decoders read them
LOW_BATTERY = (0, 17)
FENCE_OUT = (1, 18)
FENCE_IN = (2, 19)
POWER_CUT = 14
SOS = 16
TAKEN_OFF = 20
FALL = (21, 22)
ALARM_BITS = sum(
    1 << b for b in (*LOW_BATTERY, *FENCE_OUT, *FENCE_IN, POWER_CUT, SOS, TAKEN_OFF, *FALL)
)


class BadFrame(ValueError):
    """A frame that cannot be read. `part` says which part of it (shape, maker,
    device_id, index, keyword, fields, length) for the dead letter, `keyword` its
    keyword where it has one; the message says why, for the log."""

    def __init__(self, why: str, part: str, keyword: str = "") -> None:
        super().__init__(why)
        self.part = part
        self.keyword = keyword


class FrameTooLong(BadFrame):
    def __init__(self, why: str) -> None:
        super().__init__(why, "length")


@dataclass
class FrameSplitter:
    """Whole frames out of a connection's bytes, however the network cut them. Bytes
    outside brackets are garbage: counted (the gateway closes a connection that sends
    too much of it) and dropped. Holds at most `max_frame` bytes of an unfinished one."""

    max_frame: int = MAX_FRAME
    garbage: int = 0  # bytes dropped since the last whole frame
    _held: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[bytes]:
        held = self._held
        held += data
        frames: list[bytes] = []
        at = 0  # what is before `at` is used up; cut once at the end, not per frame
        while True:
            end = held.find(b"]", at)
            if end < 0:
                break
            # the last '[' before the ']': a frame cut short is garbage before the next
            start = held.rfind(b"[", at, end)
            if start < 0:
                self.garbage += end + 1 - at
            else:
                self.garbage += start - at
                frames.append(bytes(held[start + 1 : end]))
                self.garbage = 0
            at = end + 1
        start = held.find(b"[", at)
        if start < 0:
            self.garbage += len(held) - at
            held.clear()
        elif len(held) - start > self.max_frame:
            held.clear()
            msg = f"no ']' within {self.max_frame} bytes of a '['"
            raise FrameTooLong(msg)
        else:
            self.garbage += start - at
            del held[:start]
        return frames

    @property
    def holding(self) -> int:
        return len(self._held)


@dataclass(frozen=True, slots=True)
class Frame:
    maker: str
    device_id: str
    index: str | None
    kind: str
    content: bytes  # after TYPE and its comma, unescaped

    def fields(self, first: int = -1) -> list[str]:
        """The content's fields; with `first`, those and the rest unsplit as one more."""
        return self.content.decode("latin-1").split(",", first) if self.content else []

    def reply(self, content: str) -> bytes:
        """A frame back to the same watch, with its index if it sent one."""
        body = content.encode("ascii")
        index = f"{self.index}*" if self.index is not None else ""
        return f"[{self.maker}*{self.device_id}*{index}{len(body):04X}*".encode() + body + b"]"


def unescape(content: bytes) -> bytes:
    if b"\x7d" not in content:
        return content
    out = bytearray()
    k = 0
    while k < len(content):
        byte = content[k]
        if byte == 0x7D and k + 1 < len(content) and content[k + 1] in _ESCAPED:
            out.append(_ESCAPED[content[k + 1]])
            k += 2
        else:
            out.append(byte)
            k += 1
    return bytes(out)


def parse_frame(body: bytes) -> Frame:
    """One frame's body (between the brackets)."""
    parts = body.split(b"*", 4)
    if len(parts) == 5 and _HEX4.match(parts[3]):
        maker, device, index, _length, content = parts
    elif len(parts) >= 4 and _HEX4.match(parts[2]):
        maker, device, _length = parts[:3]
        content, index = b"*".join(parts[3:]), None
    else:
        msg = "not MF*ID*LEN*CONTENT or MF*ID*INDEX*LEN*CONTENT"
        raise BadFrame(msg, "shape")
    if not _MAKER.match(maker):
        msg = f"maker code {maker[:8]!r} is not two letters or digits"
        raise BadFrame(msg, "maker")
    device_id = device.decode("latin-1")
    if not is_device_id(device_id):
        msg = f"device id {device_id[:40]!r} is not [A-Za-z0-9_-]{{1,64}}"
        raise BadFrame(msg, "device_id")
    if index is not None and not index.isalnum():
        msg = f"index {index[:16]!r} is not letters or digits"
        raise BadFrame(msg, "index")
    content = unescape(content)
    kind_bytes, _, rest = content.partition(b",")
    kind = kind_bytes.decode("latin-1")
    if not _KIND.match(kind):
        msg = f"content type {kind[:20]!r} is not a protocol keyword"
        raise BadFrame(msg, "keyword")
    return Frame(maker.decode(), device_id, index.decode() if index else None, kind, rest)


# -- what a frame means ---------------------------------------------------------------


@dataclass
class Meaning:
    """A frame's canonical messages (channel, payload) and the reply it asks for."""

    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    reply: bytes | None = None
    unknown: bool = False  # a keyword not in the protocol as Anxin knows it


# Keywords answered with their own reply, and nothing else: the voice-message queries
# (TKQ, TKQ2), a first connection (INIT) and each part of a long voice message (JXTK).
ANSWERED = {"TKQ": "TKQ", "TKQ2": "TKQ2", "INIT": "INIT,1", "JXTK": "JXTKR,1"}
# Keywords a watch sends that carry nothing Anxin stores, each on purpose: the echo of a
# setting (sent by Anxin or by the maker's app: the upload interval, SOS and family
# numbers, locate, silent hours, reminders, factory reset, power off...), voice
# messages and pictures (the maker's app's business), the firmware's own reports
# (version, SIM card, settings dump) and address requests (WAD, WG: the watch asks for
# a street name to show, and Anxin has none to give). Any other keyword is no part of
# the protocol as Anxin knows it: dead-lettered, never dropped without a trace.
SAYS_NOTHING = frozenset({
    "TK", "IMG", "CR", "UPLOAD", "CENTER", "SLAVE", "PW", "CALL", "SMS", "MONITOR",
    "SOS", "SOS1", "SOS2", "SOS3", "IP", "FACTORY", "LZ", "URL", "SOSSMS", "LOWBAT",
    "VERNO", "RESET", "BT", "WORK", "WORKTIME", "POWEROFF", "REMOVE", "REMOVESMS", "PEDO",
    "WALKTIME", "SLEEPTIME", "SILENCETIME", "SILENCETIME2", "FIND", "FLOWER", "REMIND",
    "PP", "PPR", "PHB", "PHB2", "PHL", "TIMECALI", "MESSAGE", "PROFILE", "WAD", "WG",
    "ICCID", "CONFIG", "HRTSTART", "BPHRTSTART",
})  # fmt: skip


# a position is any keyword that begins so (UD, UD2, UD_LTE, AL_LTE, ALCUSTOMER1, WT...):
# vendors add their own suffixes, and a frame dropped for one loses its SOS bit
POSITION_PREFIXES = ("UD", "AL", "WT")


def is_alarm(kind: str) -> bool:
    """An alarm frame: answered (or the watch repeats it) and never without an event."""
    return kind.startswith("AL")


def meaning(frame: Frame, now: float) -> Meaning:
    """What `frame` says, in canonical messages. A field a watch left empty or zero is
    left out, not sent as a reading ingest would refuse. BadFrame if its fields are not
    the protocol's."""
    kind = frame.kind
    try:
        if kind.startswith(POSITION_PREFIXES):
            said = _position(frame, now)
            if is_alarm(kind):
                said.reply = frame.reply("AL")
            return said
        if kind == "LK":
            return _link(frame, now)
        if kind.lower() in ("bphrt", "blood", "heart", "pulse", "btemp2", "oxygen", "temp"):
            return _vitals(frame, kind.lower(), now)
    except (ValueError, IndexError) as exc:
        msg = f"{kind} fields not as the protocol has them"
        raise BadFrame(msg, "fields", kind) from exc
    word = kind.upper()
    if word in ANSWERED:
        return Meaning(reply=frame.reply(ANSWERED[word]))
    if word in SAYS_NOTHING:
        return Meaning()
    return Meaning(unknown=True)


def _link(frame: Frame, now: float) -> Meaning:
    """LK, the keepalive: `LK` or `LK,steps,rolls,battery`."""
    said = Meaning(reply=frame.reply("LK"))
    values = frame.fields()
    status: dict[str, Any] = {"ts": now, "online": True}
    if len(values) >= 3:
        _put(status, "battery", _number(values[2]), 0, 100)
        steps: dict[str, Any] = {"ts": now}
        _put(steps, "steps", _number(values[0]), 0, 1_000_000)
        if len(steps) > 1:
            said.messages.append(("vitals", {**steps, "steps": int(steps["steps"])}))
    said.messages.insert(0, ("status", status))
    return said


def _position(frame: Frame, now: float) -> Meaning:
    v = frame.fields(16)  # the cells and Wi-Fi after them: not read
    if len(v) < 16:
        msg = f"a position has 16 fields before the cells, this one {len(v)}"
        raise ValueError(msg)
    ts = _when(v[0], v[1])
    said = Meaning()
    lat, lon = _degrees(v[3], v[4], "NS"), _degrees(v[5], v[6], "EW")
    if v[2] == "A" and not (lat == 0 and lon == 0):
        said.messages.append(("location", {"ts": ts, "lat": lat, "lon": lon}))
    status: dict[str, Any] = {"ts": ts}
    _put(status, "battery", _number(v[12]), 0, 100)
    if len(status) > 1:
        said.messages.append(("status", status))
    steps = _number(v[13])
    if steps > 0:
        said.messages.append(("vitals", {"ts": ts, "steps": int(steps)}))
    word = int(v[15], 16) if v[15] else 0
    events = status_events(word, frame.kind, ts)
    if is_alarm(frame.kind) and not events:
        # an alarm frame whose status word names nothing is still an alarm: the watch
        # raised it and waits for the answer; stored and alerted as of no stated kind
        events.append({"ts": ts, "type": "alarm", "id": f"{frame.kind}-{int(ts)}-alarm",
                       "data": {"frame": frame.kind[:16], "status": v[15][:8]}})  # fmt: skip
    said.messages += [("event", e) for e in events]
    return said


def status_events(word: int, kind: str, ts: float) -> list[dict[str, Any]]:
    """Every alarm the status word carries, not just the first: one frame can hold an SOS
    and a low battery at once, and the SOS must not be lost behind the battery. Each
    event's id is the frame's time, so a watch repeating an unanswered alarm is stored
    once."""
    found: list[dict[str, Any]] = []
    if not word & ALARM_BITS:  # most positions carry none
        return found
    stamp = int(ts)

    def event(kind_of: str, **data: Any) -> None:
        payload: dict[str, Any] = {"ts": ts, "type": kind_of, "id": f"{kind}-{stamp}-{kind_of}"}
        if data:
            payload["data"] = data
        found.append(payload)

    if word >> SOS & 1:
        event("sos")
    if any(word >> bit & 1 for bit in LOW_BATTERY):
        event("battery_low")
    if word >> POWER_CUT & 1:
        event("power_cut")
    if any(word >> bit & 1 for bit in FALL):
        event("fall")
    if word >> TAKEN_OFF & 1:
        event("removed")
    if any(word >> bit & 1 for bit in FENCE_OUT):
        event("geofence_exit", region="watch")
    if any(word >> bit & 1 for bit in FENCE_IN):
        event("geofence_enter", region="watch")
    return found


def _vitals(frame: Frame, kind: str, now: float) -> Meaning:
    v = frame.fields()
    vitals: dict[str, Any] = {"ts": now}
    if kind in ("bphrt", "blood"):
        _put(vitals, "sbp", _number(v[0]), 40, 300)
        _put(vitals, "dbp", _number(v[1]), 20, 200)
        if len(v) > 2:
            _put(vitals, "hr", _number(v[2]), 20, 300)
    elif kind in ("heart", "pulse"):
        _put(vitals, "hr", _number(v[0]), 20, 300)
    elif kind == "btemp2":
        if _number(v[0]) > 0:  # the flag: a measured temperature follows
            _put(vitals, "temp", _number(v[1]), 25, 45)
    elif kind == "temp":  # TEMP,<degrees>
        _put(vitals, "temp", _number(v[0]), 25, 45)
    else:  # oxygen,<flag>,<spo2>; an older firmware's oxygen,<spo2>
        _put(vitals, "spo2", _number(v[1] if len(v) > 1 else v[0]), 50, 100)
    return Meaning(messages=[("vitals", vitals)] if len(vitals) > 1 else [])


def _put(payload: dict[str, Any], key: str, value: float, low: float, high: float) -> None:
    """A watch sends 0 (or nonsense) for "not measured": only a plausible value counts."""
    if low <= value <= high and value != 0:
        payload[key] = value


def _number(text: str) -> float:
    value = float(text) if text.strip() else 0.0
    if not math.isfinite(value):
        msg = f"{text[:20]!r} is not a number"
        raise ValueError(msg)
    return value


def _when(date: str, time: str) -> float:
    """ddmmyy, hhmmss, in UTC as the watches send them. (Read by hand: strptime cost
    more than the rest of a position's decoding together.)"""
    if len(date) != 6 or len(time) != 6 or not (date + time).isdigit():
        msg = f"date {date[:8]!r} and time {time[:8]!r} are not ddmmyy and hhmmss"
        raise ValueError(msg)
    at = datetime(
        2000 + int(date[4:6]), int(date[2:4]), int(date[0:2]),
        int(time[0:2]), int(time[2:4]), int(time[4:6]), tzinfo=UTC,
    )  # fmt: skip
    return at.timestamp()


def _degrees(value: str, hemisphere: str, allowed: str) -> float:
    if hemisphere and hemisphere not in allowed:
        msg = f"hemisphere {hemisphere[:4]!r} is not one of {allowed}"
        raise ValueError(msg)
    degrees = _number(value)
    limit = 90 if allowed == "NS" else 180
    if abs(degrees) > limit:
        msg = f"{degrees} is outside ±{limit}"
        raise ValueError(msg)
    return -abs(degrees) if hemisphere in ("S", "W") else degrees


class UnsupportedCommand(ValueError):
    """A command a watch cannot do; the message says which, in Chinese."""


def watch_command(body: dict[str, Any]) -> list[tuple[str, str]]:
    """A canonical command (devices.commands) as the watch's frames: (the keyword its
    echo carries, the frame's content). UnsupportedCommand for one a watch cannot do."""
    match body.get("command"):
        case "locate":
            return [("CR", "CR")]
        case "set_interval" if isinstance(body.get("interval_s"), int):
            return [("UPLOAD", f"UPLOAD,{body['interval_s']}")]
        case "set_sos_numbers" if isinstance(body.get("numbers"), list):
            numbers = [_dialled(str(n)) for n in body["numbers"][:3]]
            return [(f"SOS{k}", f"SOS{k},{n}") for k, n in enumerate(numbers, start=1)]
    msg = f"手表不支持该指令或参数：{str(body.get('command'))[:40]!r}"
    raise UnsupportedCommand(msg)


def _dialled(number: str) -> str:
    """As the watch dials it: digits, and a Chinese number without +86."""
    digits = "".join(c for c in number if c.isdigit() or c == "+")
    return digits.removeprefix("+86")
