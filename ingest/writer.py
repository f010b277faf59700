"""Write one batch in one transaction: COPY into staging, insert without duplicates,
dead letters, and alerts for SOS and fall events.

The caller commits, then acknowledges every message of the batch to the broker; so a
message is acknowledged only once it (or its dead letter) is durable.
"""

from collections import defaultdict
from dataclasses import dataclass, field

import msgspec
import numpy as np
from psycopg import AsyncConnection, sql

from alerts.intake import Intake
from devices.commands import record_answers
from devices.models import EventType
from devices.service import flag_over_limit
from ingest.ratelimit import SummaryRows
from ingest.records import COLUMNS, TABLES, Limited, Outcome, Reading, Rejected
from ingest.refusals import Refusal
from ingest.salvage import without_nul
from ingest.topics import Channel


@dataclass(slots=True)
class Message:
    """A message as it came off the wire, and what the codec made of it."""

    topic: str
    payload: bytes
    outcome: Outcome


@dataclass(slots=True)
class BatchResult:
    inserted: dict[Channel, int] = field(default_factory=dict)
    dead_letters: int = 0
    alerts_opened: int = 0
    over_limit: int = 0  # messages counted in summary dead letters
    newly_over_limit: list[str] = field(default_factory=list)  # topics, at a window's start

    def add(self, other: "BatchResult") -> "BatchResult":
        for channel, n in other.inserted.items():
            self.inserted[channel] = self.inserted.get(channel, 0) + n
        self.dead_letters += other.dead_letters
        self.alerts_opened += other.alerts_opened
        self.over_limit += other.over_limit
        self.newly_over_limit += other.newly_over_limit
        return self


def _staging_ddl(channel: Channel) -> str:
    # Same columns as the table, except ts as epoch seconds (see ingest.records).
    table, cols = TABLES[channel], COLUMNS[channel]
    select = ", ".join("extract(epoch FROM ts)::float8 AS ts" if c == "ts" else c for c in cols)
    return (
        f"CREATE TEMP TABLE IF NOT EXISTS stage_{table} ON COMMIT DELETE ROWS"
        f" AS SELECT {select} FROM {table} WITH NO DATA"
    )


_STAGING = ";".join(_staging_ddl(channel) for channel in TABLES)


async def write_batch(
    *,
    conn: AsyncConnection,
    messages: list[Message],
    unregistered: set[str],
    alerts: Intake,
    summaries: SummaryRows | None = None,
) -> BatchResult:
    """Store a batch inside the caller's transaction; readings from the `unregistered`
    devices become dead letters, messages over a rate limit are added to `summaries`;
    emergencies are alerted, help requests routed and command answers recorded in the
    same transaction."""
    if unregistered:
        _quarantine(messages, unregistered)
    await _restate_repeats(conn, messages)
    batch = _Sorted.of(messages)
    result = BatchResult(dead_letters=len(batch.dead))
    await _store(conn, batch, summaries or SummaryRows(), result)
    await _hand_on(conn, batch, alerts, result)
    return result


@dataclass
class _Sorted:
    """A batch's messages by what becomes of them."""

    rows: dict[Channel, list[tuple[object, ...]]] = field(default_factory=lambda: defaultdict(list))
    urgent: list[Reading] = field(default_factory=list)
    helps: list[Reading] = field(default_factory=list)
    answers: list[tuple[str, float, dict[str, object]]] = field(default_factory=list)
    dead: list[tuple[str, bytes, str, str, str, str | None]] = field(default_factory=list)
    # per topic: the first message over its limit, and how many were
    over_limit: dict[str, tuple[Message, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, messages: list[Message]) -> "_Sorted":
        batch = cls()
        for m in messages:
            if isinstance(m.outcome, Reading):
                batch.rows[m.outcome.channel].append(m.outcome.row)
                if m.outcome.urgent:
                    batch.urgent.append(m.outcome)
                elif m.outcome.help is not None:
                    batch.helps.append(m.outcome)
                elif m.outcome.answer is not None:
                    batch.answers.append((m.outcome.device_id, float(m.outcome.ts.timestamp()),
                                          m.outcome.answer))  # fmt: skip
            elif isinstance(m.outcome, Rejected):
                batch.dead.append((m.topic, m.payload, *_letter(m.outcome)))
            elif isinstance(m.outcome, Limited):
                first, n = batch.over_limit.get(m.topic, (m, 0))
                batch.over_limit[m.topic] = (first, n + 1)
        return batch


async def _store(
    conn: AsyncConnection, batch: _Sorted, summaries: SummaryRows, result: BatchResult
) -> None:
    """The rate limit's summaries, the readings (each once) and the dead letters."""
    if batch.over_limit:
        await _summarise(conn, batch.over_limit, summaries, result)
    if batch.rows:
        await conn.execute(_STAGING)
    for channel, channel_rows in batch.rows.items():
        result.inserted[channel] = await _copy_dedup(conn, channel, channel_rows)
    if batch.dead:
        async with conn.cursor().copy(
            "COPY dead_letters (topic, payload, reason, reason_code, reason_values, device_id)"
            " FROM STDIN"
        ) as copy:
            for record in batch.dead:
                await copy.write_row(record)


async def _hand_on(
    conn: AsyncConnection, batch: _Sorted, alerts: Intake, result: BatchResult
) -> None:
    """What is not only stored: emergencies to alerts (opened the moment they are
    durable), devices' answers to their commands, help requests to be routed."""
    for reading in batch.urgent:
        ts, _device, event_type, event_key = reading.row[:4]
        assert isinstance(ts, float)
        event = EventType(str(event_type))
        if await alerts.open_emergency(
            conn=conn, device_id=reading.device_id, event=event, ts=ts, key=str(event_key)
        ):
            result.alerts_opened += 1
    if batch.answers:
        await record_answers(conn=conn, answers=batch.answers)
    for reading in batch.helps:
        ts, _device, _type, event_key = reading.row[:4]
        assert isinstance(ts, float)
        assert reading.help is not None
        await alerts.request_help(
            conn=conn, device_id=reading.device_id, service=reading.help, ts=ts, key=str(event_key)
        )


async def _summarise(
    conn: AsyncConnection,
    over_limit: dict[str, tuple[Message, int]],
    summaries: SummaryRows,
    result: BatchResult,
) -> None:
    """Add each topic's count to its open summary dead letter, or open one (with the
    first message as its sample) and flag the device."""
    flagged: set[str] = set()
    for topic, (first, n) in over_limit.items():
        result.over_limit += n
        row_id = summaries.row(topic)
        if row_id is not None:
            cur = await conn.execute(
                "UPDATE dead_letters SET messages = messages + %s, last_at = now() WHERE id = %s",
                (n, row_id),
            )
            if cur.rowcount:
                continue
        assert isinstance(first.outcome, Limited)
        cur = await conn.execute(
            "INSERT INTO dead_letters"
            " (topic, payload, reason, reason_code, reason_values, device_id, messages, last_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, now()) RETURNING id",
            (topic, first.payload, *_letter(first.outcome.rejected), n),
        )
        (new_id,) = await cur.fetchone() or (None,)
        assert isinstance(new_id, int)
        summaries.opened(topic, new_id)
        result.newly_over_limit.append(topic)
        flagged.add(first.outcome.device_id)
    if flagged:
        await flag_over_limit(conn=conn, device_ids=flagged)


def _letter(refused: Rejected) -> tuple[str, str, str, str | None]:
    """A dead letter's reason (English), code, values (JSON) and device. Values echo
    what the device sent, so a NUL in them is replaced (PostgreSQL refuses it)."""
    values = msgspec.json.encode(without_nul(refused.values)).decode()
    return refused.reason.replace("\x00", "\ufffd"), refused.code, values, refused.device_id


def _quarantine(messages: list[Message], unregistered: set[str]) -> None:
    for m in messages:
        if isinstance(m.outcome, Reading) and m.outcome.device_id in unregistered:
            device_id = m.outcome.device_id
            m.outcome = Rejected(Refusal.UNKNOWN_DEVICE, device_id, {"device_id": device_id})


async def _restate_repeats(conn: AsyncConnection, messages: list[Message]) -> None:
    """A status without its own ts that repeats the device's last stored status is
    that status again (a retained last will replayed to a new subscription, a
    redelivery): it takes the stored row's ts, so it is stored once and alerts once."""
    untimed = [
        m
        for m in messages
        if isinstance(m.outcome, Reading) and m.outcome.ts_received and not m.outcome.urgent
    ]
    if not untimed:
        return
    # battery is `real`: compared at that precision on both sides
    cur = await conn.execute(
        "SELECT DISTINCT ON (device_id) device_id, extract(epoch FROM ts)::float8,"
        " online, battery::float8, rssi, fw FROM device_status WHERE device_id = ANY(%s)"
        " ORDER BY device_id, ts DESC",
        (list({m.outcome.device_id for m in untimed if isinstance(m.outcome, Reading)}),),
    )
    last = {row[0]: row for row in await cur.fetchall()}
    for m in untimed:
        assert isinstance(m.outcome, Reading)
        stored = last.get(m.outcome.device_id)
        state = _status_state(m.outcome.row)
        if stored is not None and tuple(stored[2:]) == state:
            m.outcome = msgspec.structs.replace(m.outcome, row=(stored[1], *m.outcome.row[1:]))
        last[m.outcome.device_id] = (m.outcome.device_id, m.outcome.row[0], *state)


def _status_state(row: tuple[object, ...]) -> tuple[object, ...]:
    """online, battery, rssi, fw as the database returns them (battery a `real`)."""
    _ts, _device, online, battery, rssi, fw = row
    assert battery is None or isinstance(battery, float)
    as_real = None if battery is None else float(np.float32(battery))
    return (online, as_real, rssi, fw)


async def _copy_dedup(
    conn: AsyncConnection, channel: Channel, rows: list[tuple[object, ...]]
) -> int:
    # COPY cannot skip duplicates, so it fills a per-session staging table and one
    # INSERT ... ON CONFLICT moves the new rows across.
    table = TABLES[channel]
    cols = sql.SQL(", ").join(map(sql.Identifier, COLUMNS[channel]))
    stage = sql.Identifier(f"stage_{table}")
    async with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(stage, cols)) as copy:
        for row in rows:
            await copy.write_row(row)
    converted = sql.SQL(", ").join(
        sql.SQL("to_timestamp(ts)") if c == "ts" else sql.Identifier(c) for c in COLUMNS[channel]
    )
    cur = await conn.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING").format(
            sql.Identifier(table), cols, converted, stage
        )
    )
    return cur.rowcount
