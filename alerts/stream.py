"""The live stream: every committed change to an incident, to every connected client
allowed to see it, within a second, whichever service instance made it.

One LISTEN connection per process hears `pg_notify` on commit (alerts.audit); the hub
then reads the audit rows it has not seen, in id order, and hands each to the clients
whose scope covers it. Audit ids are handed out in commit order, so a client that
reconnects with `Last-Event-ID: N` is replayed exactly the rows after N from the table.
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

from alerts.audit import NOTIFY_CHANNEL
from alerts.queries import visible
from devices.accounts import Principal, Role
from kernel.db import DB_UNAVAILABLE, OutageLog

log = logging.getLogger("anxin.stream")

APPLICATION_NAME = "anxin-stream"  # its LISTEN connection, as pg_stat_activity shows it
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
    def __init__(self, dsn: str, pool: AsyncConnectionPool, outage: OutageLog) -> None:
        self._dsn = dsn
        self._pool = pool
        self._outage = outage
        self._subscribers: set[Subscriber] = set()
        self._wake = asyncio.Event()
        self.last_id: int | None = None  # the last audit row handed out
        self.listening = asyncio.Event()

    # -- the supervised task -----------------------------------------------------------

    async def run(self) -> None:
        """Listen and hand out until cancelled; a database outage is waited out (and
        what was committed meanwhile handed out once it is back)."""
        while True:
            started = time.monotonic()
            # the listener and the reader run in a task group, which raises what they
            # raise as a group: an outage inside it must be recognised as one too
            try:
                await self._listen()
            except* DB_UNAVAILABLE as outage:
                # a connection lost while listening failed now; one never made failed
                # from the start of this try
                failed_from = time.monotonic() if self.listening.is_set() else started
                self.listening.clear()
                self._outage.failed(outage.exceptions[0], attempt_started=failed_from)
                await asyncio.sleep(1.0)

    async def _listen(self) -> None:
        async with await AsyncConnection.connect(
            self._dsn, autocommit=True, application_name=APPLICATION_NAME
        ) as conn:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(NOTIFY_CHANNEL)))
            if self.last_id is None:
                cur = await conn.execute("SELECT coalesce(max(id), 0) FROM alert_audit")
                row = await cur.fetchone()
                assert row is not None
                self.last_id = int(row[0])
            self.listening.set()
            self._outage.succeeded()
            self._wake.set()  # catch up on what was committed while not listening
            # the listening connection is busy waiting (psycopg holds it while it waits
            # for notifications): rows are read on a pooled one
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._hand_out())
                async for _ in conn.notifies():
                    self._wake.set()

    async def _hand_out(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()  # notifications during the read wake the next round
            async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
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
        "SELECT resident_id FROM resident_contacts WHERE phone = %s", (user.phone,)
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
