"""The live stream: every committed change to an incident, to every connected client
allowed to see it, within a second, whichever service instance made it.

The process's one LISTEN connection (kernel.listener) hears `pg_notify` on commit
(alerts.audit); the hub then reads the audit rows it has not seen, in id order, and
hands each to the clients whose scope covers it. Audit ids are handed out in commit
order, so a client that reconnects with `Last-Event-ID: N` is replayed exactly the rows
after N from the table.
A client too slow to keep up is disconnected, and replays on reconnect.
"""

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from access.accounts import Principal, Role
from alerts.queries import visible
from kernel.outage import DB_UNAVAILABLE, OutageLog

log = logging.getLogger("anxin.stream")

QUEUE_MAX = 1000  # events a client may fall behind before it is dropped
REPLAY_MAX = 10_000  # a reconnect replays at most this many; older ones: list the queue

_ROWS = """
    SELECT e.id, e.at, e.incident_id, e.alert_id, e.actor, e.action, e.from_status,
           e.to_status, e.note, e.data, i.status, i.severity, i.escalation_level,
           i.district, i.service_point_id, i.resident_id, i.escalate_at AS ack_deadline,
           i.opened_at, i.closed_at
    FROM alert_audit e JOIN incidents i ON i.id = e.incident_id
"""


@dataclass(eq=False)  # each one is itself, kept in a set
class Subscriber:
    user: Principal
    # a caregiver's residents, read when they connect
    residents: frozenset[str] = frozenset()
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(QUEUE_MAX))
    dropped: bool = False

    def sees(self, row: dict[str, Any]) -> bool:
        """The same scope as alerts.queries.visible, for a row already read."""
        user = self.user
        if user.role is Role.SERVICE_POINT:
            return bool(row["service_point_id"] == user.service_point_id)
        if user.role is Role.CAREGIVER:
            return row["resident_id"] in self.residents
        if user.districts and user.role in (Role.OPERATOR, Role.SUPERVISOR):
            return row["district"] in user.districts
        return True


class StreamHub:
    """Woken by `wake` (kernel.listener sets it on each commit that notifies
    NOTIFY_CHANNEL, and on every reconnection), it reads the audit rows not yet handed
    out and hands each to the clients who may see it."""

    def __init__(self, pool: AsyncConnectionPool, outage: OutageLog, wake: asyncio.Event) -> None:
        self._pool = pool
        self._outage = outage
        self._subscribers: set[Subscriber] = set()
        self._wake = wake
        self.last_id: int | None = None  # the last audit row handed out

    # -- the supervised task -----------------------------------------------------------

    async def run(self) -> None:
        """Hand out until cancelled; a database outage is waited out (and what was
        committed meanwhile handed out once it is back)."""
        while True:
            await self._wake.wait()
            self._wake.clear()  # notifications during the read wake the next round
            attempt_started = time.monotonic()
            try:
                await self._hand_out()
            except DB_UNAVAILABLE as exc:
                self._outage.failed(exc, attempt_started=attempt_started)
                self._wake.set()  # read again once it is back
                await asyncio.sleep(1.0)

    async def _hand_out(self) -> None:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            if self.last_id is None:
                # the first wake comes once the listener listens: nothing committed
                # after this read can be missed
                await cur.execute("SELECT coalesce(max(id), 0) AS id FROM alert_audit")
                first = await cur.fetchone()
                assert first is not None
                self.last_id = int(first["id"])
            await cur.execute(_ROWS + " WHERE e.id > %s ORDER BY e.id", (self.last_id,))
            rows = await cur.fetchall()
        for row in rows:
            self._publish(row)
            self.last_id = row["id"]

    def _publish(self, row: dict[str, Any]) -> None:
        for sub in list(self._subscribers):
            if not sub.sees(row):
                continue
            try:
                sub.queue.put_nowait(row)
            except asyncio.QueueFull:
                sub.dropped = True
                self._subscribers.discard(sub)
                log.warning(
                    "stream client %s fell %d events behind: dropped", sub.user.name, QUEUE_MAX
                )

    # -- clients -------------------------------------------------------------------------

    async def events(
        self, *, user: Principal, last_event_id: int | None
    ) -> AsyncIterator[dict[str, Any]]:
        """A client's events: those after `last_event_id` from the table, then
        `{"ready": id}` once it is subscribed, then live ones. Holds a pooled
        connection only while it reads, never while it waits."""
        async with self._pool.connection() as conn:
            sub = Subscriber(user, await _residents_of(conn, user))
        self._subscribers.add(sub)  # before the replay: nothing falls between the two
        try:
            last = last_event_id
            if last is None:
                last = self.last_id or 0
            else:
                async with self._pool.connection() as conn:
                    replay = await _replay(conn, user, last)
                for row in replay:
                    last = row["id"]
                    yield row
            # subscribed and replayed: from here on the client misses nothing
            yield {"ready": last}
            while not sub.dropped or not sub.queue.empty():
                row = await sub.queue.get()
                if row["id"] > last:
                    last = row["id"]
                    yield row
        finally:
            self._subscribers.discard(sub)


async def _residents_of(conn: AsyncConnection, user: Principal) -> frozenset[str]:
    if user.role is not Role.CAREGIVER:
        return frozenset()
    cur = await conn.execute(
        "SELECT resident_id FROM contact_directory WHERE phone = %s", (user.phone,)
    )
    return frozenset(r[0] for r in await cur.fetchall())


async def _replay(conn: AsyncConnection, user: Principal, after: int) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"after": after, "max": REPLAY_MAX}
    query = sql.SQL(_ROWS + " WHERE e.id > %(after)s AND {visible} ORDER BY e.id LIMIT %(max)s")
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query.format(visible=visible(user, params)), params)
        return await cur.fetchall()


def as_json(row: dict[str, Any]) -> str:
    return json.dumps(row, default=str, ensure_ascii=False)
