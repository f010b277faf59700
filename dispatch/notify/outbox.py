"""The outbox table (dispatch owns `outbox`, `outbox_attempts` and `webhooks`).

Rows are written in the transaction of the change they tell of (`enqueue`,
`enqueue_webhooks`), so a change is never told without having happened, nor happen
without being told. A worker claims due rows with SKIP LOCKED, most urgent first
(`priority`, set by schema.sql from what a message tells of), and pushes their `due_at`
a short lease ahead in the same statement, renewed while it sends: a second worker
skips them, and a worker killed mid-send leaves them due again when the lease ends, to
be sent once more under the same id (the idempotency key the receiver can drop a repeat
by). The commit that queues a message notifies NOTIFY_CHANNEL, which wakes the workers.
"""

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

# what the commit that queues a message notifies (schema.sql's outbox_queued trigger)
NOTIFY_CHANNEL = "anxin_outbox"
# priorities (schema.sql's outbox_priority): a P1's or P2's messages, and the rest
URGENT = 1
ROUTINE = 5


@dataclass(frozen=True)
class Message:
    id: int
    channel: str
    recipient: str
    body: dict[str, Any]
    attempts: int  # including this one
    created_at: datetime


@dataclass(frozen=True)
class Result:
    """What one attempt came to. `retry`: a failure worth trying again (a 5xx, a
    timeout, the receiver down); otherwise a failure is final."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    receipt: dict[str, Any] | None = None
    retry: bool = False
    took_ms: float | None = None


async def enqueue(
    *,
    conn: AsyncConnection,
    channel: str,
    recipient: str,
    body: dict[str, Any],
    incident_id: int | None = None,
) -> int:
    cur = await conn.execute(
        "INSERT INTO outbox (incident_id, channel, recipient, body) VALUES (%s, %s, %s, %s)"
        " RETURNING id",
        (incident_id, channel, recipient, json.dumps(body, ensure_ascii=False)),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def enqueue_webhooks(*, conn: AsyncConnection, incident_id: int, event: str) -> None:
    """One message per enabled webhook for a change to an incident (`event`, its JSON,
    made by the domain that changed it): one statement, none when no webhook is
    configured."""
    await conn.execute(
        "INSERT INTO outbox (incident_id, channel, recipient, body)"
        " SELECT %s, 'webhook', w.name, %s::jsonb FROM webhooks w WHERE w.enabled",
        (incident_id, event),
    )


async def claim(
    *,
    conn: AsyncConnection,
    limit: int,
    lease_s: float,
    per_receiver: int,
    skip_ids: Sequence[int] = (),
    skip_receivers: Sequence[str] = (),
    probing: Sequence[str] = (),
    most: int = ROUTINE,
    room: Mapping[str, int] | None = None,
) -> list[Message]:
    """Due messages of priority `most` or more urgent, most urgent first, each held for
    `lease_s` (commits at once: autocommit): at most `per_receiver` to any one
    receiver, or its `room` (`receiver_key` -> how many more: it has some in flight
    already), one to those in `probing` (failing: tried one message at a time), none to
    those in `skip_receivers` (busy or resting), none of `skip_ids` (this process holds
    them already)."""
    room = room or {}
    cur = await conn.execute(
        """
        WITH due AS (
            SELECT id, channel, recipient, priority, due_at FROM outbox
            WHERE status = 'pending' AND priority <= %(most)s AND due_at <= now()
              AND id <> ALL(%(ids)s)
              AND channel || chr(31) || recipient <> ALL(%(receivers)s)
            ORDER BY priority, due_at, id LIMIT %(scan)s
        ), chosen AS (
            SELECT id FROM (
                SELECT id, priority, due_at, channel || chr(31) || recipient AS receiver,
                    row_number() OVER (
                        PARTITION BY channel, recipient ORDER BY priority, due_at, id) AS nth
                FROM due) d
            LEFT JOIN unnest(%(held)s::text[], %(room)s::int[]) AS h (receiver, room)
              ON h.receiver = d.receiver
            WHERE nth <= CASE WHEN d.receiver = ANY(%(probing)s) THEN 1
                              ELSE coalesce(h.room, %(per_receiver)s) END
            ORDER BY priority, due_at, id LIMIT %(limit)s
        ), locked AS (
            -- only the chosen are locked (a backlog scanned past is not); a row another
            -- worker claimed meanwhile is re-read here, no longer due, and skipped
            SELECT id FROM outbox WHERE id IN (SELECT id FROM chosen)
              AND status = 'pending' AND due_at <= now()
            FOR UPDATE SKIP LOCKED
        )
        UPDATE outbox SET attempts = attempts + 1,
            due_at = now() + %(lease)s * interval '1 second'
        WHERE id IN (SELECT id FROM locked)
        RETURNING id, channel, recipient, body, attempts, created_at
        """,
        {
            "lease": lease_s, "limit": limit, "scan": limit * 4, "per_receiver": per_receiver,
            "ids": list(skip_ids), "receivers": list(skip_receivers), "most": most,
            "probing": list(probing), "held": list(room), "room": list(room.values()),
        },
    )  # fmt: skip
    return [Message(*row) for row in await cur.fetchall()]


def receiver_key(channel: str, recipient: str) -> str:
    """One receiver, as `claim` names those to skip."""
    return f"{channel}\x1f{recipient}"


async def renew(*, conn: AsyncConnection, ids: Sequence[int], lease_s: float) -> None:
    """Hold messages still being sent for another lease (a process that dies stops
    renewing, and its messages are due again a lease later)."""
    await conn.execute(
        "UPDATE outbox SET due_at = now() + %s * interval '1 second'"
        " WHERE id = ANY(%s) AND status = 'pending'",
        (lease_s, list(ids)),
    )


def backoff_s(attempts: int, *, base: float = 1.0, cap: float = 30.0) -> float:
    """Exponential backoff with jitter ('equal jitter': half fixed, half random), so
    many messages to one receiver that came back do not all retry at one instant."""
    ceiling = min(cap, base * 2.0 ** (attempts - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


async def settle(
    *,
    conn: AsyncConnection,
    outcomes: Sequence[tuple[Message, Result, float | None]],
    worker: str,
    give_up_after_s: float,
) -> list[Message]:
    """Record each attempt and its message's new state, in one transaction; returns
    those given up on. Each outcome is (the message, the attempt's result, and when
    given, how soon a failure to retry is due again: its receiver resting; else after a
    backoff)."""
    given_up: list[Message] = []
    rows = []
    for message, result, retry_in_s in outcomes:
        age = (datetime.now(message.created_at.tzinfo) - message.created_at).total_seconds()
        if result.ok:
            status, due = "sent", None
        elif result.retry and age < give_up_after_s:
            status = "pending"
            due = retry_in_s if retry_in_s is not None else backoff_s(message.attempts)
        else:
            status, due = "failed", None
            given_up.append(message)
        rows.append((message, result, status, due))
    async with conn.transaction(), conn.cursor() as cur:
        await cur.executemany(
            """
            UPDATE outbox SET status = %s,
                due_at = CASE WHEN %s::float8 IS NULL THEN due_at
                              ELSE now() + %s::float8 * interval '1 second' END,
                sent_at = CASE WHEN %s = 'sent' THEN now() END,
                receipt = coalesce(%s::jsonb, receipt), last_error = %s
            WHERE id = %s
            """,
            [
                (status, due, due, status, _json(r.receipt), r.error, m.id)
                for m, r, status, due in rows
            ],
        )
        await cur.executemany(
            "INSERT INTO outbox_attempts (outbox_id, worker, ok, status_code, error, receipt,"
            " took_ms) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                (m.id, worker, r.ok, r.status_code, r.error, _json(r.receipt), r.took_ms)
                for m, r, _, _ in rows
            ],
        )
    return given_up


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)
