"""Decode and validate canonical JSON payloads.

msgspec does the parsing and the range checks in one pass (about a microsecond a
message); anything it refuses, and anything physiologically impossible, becomes a
`Rejected` with a reason instead of an exception, so one bad device never stops
the consumer. JSON has no NaN or Infinity, and msgspec refuses both spellings.
"""

import contextlib
import functools
import math
from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from devices.models import URGENT_EVENTS, EventType, HelpService, asked_service
from ingest.diagnosis import diagnose
from ingest.records import Reading, Rejected
from ingest.refusals import Refusal, render
from ingest.salvage import NUL_ESCAPE, Damage, LooseEvent, loose_event, note, without_nul
from ingest.topics import BadTopic, Channel, Topic

# 2000-01-01: a device clock that reads earlier has lost its time (epoch 0 after a reset).
EARLIEST_TS = 946_684_800.0
# a position rougher than this (metres; a phone's cell-tower guess in the countryside)
# is no place to send anyone to: it is refused with its reason, not stored as a fix
ROUGHEST_FIX_M = 5000

# why a time is refused: the code and its values
TimeRefusal = tuple[Refusal, dict[str, Any]]

Seq = Annotated[int, Meta(ge=0, le=2**63 - 1)]
Timestamp = float | datetime

# Ranges a sensor can physically report for a living person; outside them it is a
# fault, not a reading (a heart rate of -5, SpO2 of 140, a body temperature of 0 C).
HeartRate = Annotated[float, Meta(ge=20, le=300)]
SpO2 = Annotated[float, Meta(ge=50, le=100)]
BodyTemp = Annotated[float, Meta(ge=25, le=45)]
Systolic = Annotated[float, Meta(ge=40, le=300)]
Diastolic = Annotated[float, Meta(ge=20, le=200)]
RespRate = Annotated[float, Meta(ge=2, le=80)]
Steps = Annotated[int, Meta(ge=0, le=1_000_000)]
Battery = Annotated[float, Meta(ge=0, le=100)]


class VitalsPayload(msgspec.Struct):
    ts: Timestamp
    seq: Seq | None = None
    hr: HeartRate | None = None
    spo2: SpO2 | None = None
    temp: BodyTemp | None = None
    sbp: Systolic | None = None
    dbp: Diastolic | None = None
    rr: RespRate | None = None
    steps: Steps | None = None
    battery: Battery | None = None


class EventPayload(msgspec.Struct):
    ts: Timestamp
    type: EventType
    id: Annotated[str, Meta(min_length=1, max_length=128)] | None = None
    seq: Seq | None = None
    data: dict[str, Any] | None = None


class LocationPayload(msgspec.Struct):
    ts: Timestamp
    lat: Annotated[float, Meta(ge=-90, le=90)]
    lon: Annotated[float, Meta(ge=-180, le=180)]
    acc: Annotated[float, Meta(ge=0, le=1_000_000)] | None = None
    seq: Seq | None = None


class StatusPayload(msgspec.Struct):
    # A last-will message is fixed when the device connects, so it may carry no ts.
    ts: Timestamp | None = None
    online: bool | None = None
    battery: Battery | None = None
    rssi: Annotated[int, Meta(ge=-200, le=0)] | None = None
    fw: Annotated[str, Meta(max_length=64)] | None = None


SCHEMAS: dict[Channel, type[msgspec.Struct]] = {
    Channel.VITALS: VitalsPayload,
    Channel.EVENT: EventPayload,
    Channel.LOCATION: LocationPayload,
    Channel.STATUS: StatusPayload,
}
_DECODERS: dict[Channel, msgspec.json.Decoder[Any]] = {
    channel: msgspec.json.Decoder(schema) for channel, schema in SCHEMAS.items()
}


# Topics repeat (one per device and channel), so parsing and checking each one again
# cost 2.3 us a message; a hit here costs 0.1. Bounded, so a flood of made-up topics
# only evicts; about 20 MB when full.
_parse_topic = functools.lru_cache(maxsize=65_536)(Topic.parse)


class Codec:
    """Turns (topic, payload) into a Reading or a Rejected."""

    def __init__(self, *, max_payload_bytes: int, future_tolerance_s: float) -> None:
        self.max_payload_bytes = max_payload_bytes
        self.future_tolerance_s = future_tolerance_s

    def decode(self, topic: str, payload: bytes, now: float) -> Reading | Rejected:
        try:
            parsed = _parse_topic(topic)
        except BadTopic as exc:
            return Rejected(exc.code, None, exc.values)
        device_id = parsed.device_id
        too_large = self.oversize(payload)
        if too_large:
            return Rejected(Refusal.TOO_LARGE, device_id, too_large)
        try:
            body = _DECODERS[parsed.channel].decode(payload)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            rescued = self._rescue(device_id, payload, now) if parsed.channel == "event" else None
            if rescued is not None:
                return rescued
            # the reason is ours, not the parser's sentence (a release may reword it)
            code, values = diagnose(payload, SCHEMAS[parsed.channel])
            return Rejected(code, device_id, {"channel": str(parsed.channel), **values})
        if isinstance(body, StatusPayload) and body.ts is None:
            ts: float | TimeRefusal = now
        else:
            ts = self._timestamp(body.ts, now)
        if isinstance(ts, tuple):
            refused = Rejected(ts[0], device_id, ts[1])
            if isinstance(body, EventPayload) and body.type in URGENT_EVENTS:
                return self._rescue(device_id, payload, now) or refused
            return refused
        if NUL_ESCAPE in payload:  # PostgreSQL refuses NUL in text and jsonb
            body = _without_nul(body)
        return _to_reading(parsed.channel, device_id, ts, body)

    def oversize(self, payload: bytes) -> dict[str, int] | None:
        """How much too large a payload is to read, or None."""
        if len(payload) > self.max_payload_bytes:
            return {"bytes": len(payload), "limit": self.max_payload_bytes}
        return None

    def _rescue(self, device_id: str, payload: bytes, now: float) -> Reading | Rejected | None:
        """An emergency event whose optional fields (or ts) are damaged, kept without
        them; None when the payload is not an emergency event at all."""
        loose, damage = loose_event(payload)
        try:
            event_type = EventType(loose.type)
        except ValueError:
            return None
        if event_type not in URGENT_EVENTS:
            return None
        ts = self._loose_ts(loose, now, damage)
        ident, seq, data = _checked_optionals(loose, damage)
        data = {**(data or {}), "damaged": damage}
        body = _without_nul(EventPayload(ts=ts, type=event_type, id=ident, seq=seq, data=data))
        return _to_reading(Channel.EVENT, device_id, ts, body)

    def _loose_ts(self, loose: LooseEvent, now: float, damage: list[Damage]) -> float:
        value = loose.ts
        if isinstance(value, str):
            with contextlib.suppress(msgspec.ValidationError):
                value = msgspec.convert(value, datetime)
        checked: float | TimeRefusal = (
            self._timestamp(value, now)
            if isinstance(value, datetime | float | int) and not isinstance(value, bool)
            else (Refusal.FIELD_WRONG_TYPE, {"field": "ts", "expected": "time"})
        )
        if isinstance(checked, tuple):
            damage.append(
                note(
                    "ts_replaced",
                    detail=str(checked[0]),
                    zh="设备时间缺失或无效，改用接收时间",
                    en=f"{render(*checked)}; the time received is used",
                )
            )
            return now
        return float(checked)

    def _timestamp(self, value: Timestamp, now: float) -> float | TimeRefusal:
        """Epoch seconds, or why the timestamp is refused."""
        if isinstance(value, datetime):
            if value.tzinfo is None:
                return Refusal.TS_NO_ZONE, {}
            epoch = value.timestamp()
        else:
            if not math.isfinite(value):
                return Refusal.TS_NOT_FINITE, {}
            epoch = value
        if epoch > now + self.future_tolerance_s:
            return Refusal.TS_FUTURE, {"ts": epoch, "tolerance_s": self.future_tolerance_s}
        if epoch < EARLIEST_TS:
            return Refusal.TS_BEFORE_2000, {"ts": epoch}
        return epoch


def _checked_optionals(
    loose: LooseEvent, damage: list[Damage]
) -> tuple[str | None, int | None, dict[str, Any] | None]:
    ident = loose.id if isinstance(loose.id, str) and 1 <= len(loose.id) <= 128 else None
    seq = (
        loose.seq
        if isinstance(loose.seq, int) and not isinstance(loose.seq, bool) and 0 <= loose.seq < 2**63
        else None
    )
    data = loose.data if isinstance(loose.data, dict) else None
    for name, value, kept in (("id", loose.id, ident), ("seq", loose.seq, seq)):
        if value is not None and kept is None:
            shown = repr(str(value)[:40])
            damage.append(
                note(
                    "field_dropped",
                    field=name,
                    value=str(value)[:40],
                    zh=f"字段 {name}（{shown}）无效，已丢弃",
                    en=f"{name} {shown} dropped",
                )
            )
    if loose.data is not None and data is None:
        damage.append(
            note(
                "field_dropped",
                field="data",
                zh="字段 data 不是对象，已丢弃",
                en="data dropped (not an object)",
            )
        )
    return ident, seq, data


def _without_nul(body: Any) -> Any:
    if isinstance(body, EventPayload):
        ident, data = without_nul(body.id), without_nul(body.data)
        if ident != body.id or data != body.data:
            data = data or {}
            notes = data.get("damaged")
            notes = [*notes] if isinstance(notes, list) else []
            replaced = note("nul_replaced", zh="空字符（NUL）已替换", en="NUL characters replaced")
            data = {**data, "damaged": [*notes, replaced]}
        return msgspec.structs.replace(body, id=ident, data=data)
    if isinstance(body, StatusPayload):
        return msgspec.structs.replace(body, fw=without_nul(body.fw))
    return body


def _to_reading(channel: Channel, device_id: str, ts: float, body: Any) -> Reading | Rejected:
    if isinstance(body, VitalsPayload):
        row = (
            ts,
            device_id,
            body.seq,
            body.hr,
            body.spo2,
            body.temp,
            body.sbp,
            body.dbp,
            body.rr,
            body.steps,
            body.battery,
        )
        if row[3:].count(None) == len(row) - 3:  # not one measurement
            return Rejected(Refusal.NO_READING, device_id)
        return Reading(channel, device_id, row)
    if isinstance(body, EventPayload):
        key = (
            body.id
            if body.id is not None
            else (f"seq:{body.seq}" if body.seq is not None else str(body.type))
        )
        try:
            service = asked_service(body.type, body.data)
        except ValueError:
            asked = body.data.get("service") if isinstance(body.data, dict) else None
            values = {"service": str(asked)[:40], "services": ", ".join(HelpService)}
            return Rejected(Refusal.HELP_SERVICE, device_id, values)
        data = msgspec.json.encode(body.data).decode() if body.data is not None else None
        return Reading(
            channel,
            device_id,
            (ts, device_id, str(body.type), key, body.seq, data),
            urgent=body.type in URGENT_EVENTS,
            help=service,
            answer=body.data if body.type is EventType.COMMAND_RESULT else None,
        )
    if isinstance(body, LocationPayload):
        if body.lat == 0 and body.lon == 0:  # a watch or phone with no fix yet
            return Rejected(Refusal.NO_FIX, device_id)
        if body.acc is not None and body.acc > ROUGHEST_FIX_M:
            return Rejected(
                Refusal.TOO_ROUGH, device_id, {"acc": body.acc, "limit": ROUGHEST_FIX_M}
            )
        return Reading(channel, device_id, (ts, device_id, body.seq, body.lat, body.lon, body.acc))
    assert isinstance(body, StatusPayload)
    return Reading(
        channel,
        device_id,
        (ts, device_id, body.online, body.battery, body.rssi, body.fw),
        ts_received=body.ts is None,
    )
