"""One LISTEN connection per process: what a commit elsewhere tells this process.

A transaction that wants someone woken calls `pg_notify(channel, ...)`; PostgreSQL
delivers it when (and only if) the transaction commits. Each channel here has an
`asyncio.Event` that a notification sets; whoever waits on it reads the table itself
(a notification says only "look"). On every (re)connection every event is set, so what
was committed while nobody listened is read as well. A lost connection is a database
outage, logged once with its length from the moment it was lost.
"""

import asyncio
import time

from psycopg import AsyncConnection, sql

from kernel.outage import DB_UNAVAILABLE, OutageLog

APPLICATION_NAME = "anxin-listen"  # as pg_stat_activity shows the connection


class Listener:
    def __init__(self, dsn: str, outage: OutageLog) -> None:
        self._dsn = dsn
        self._outage = outage
        self._events: dict[str, asyncio.Event] = {}
        self.listening = asyncio.Event()

    def event(self, channel: str) -> asyncio.Event:
        """The event `channel`'s notifications set (ask before `run` starts)."""
        return self._events.setdefault(channel, asyncio.Event())

    async def run(self) -> None:
        """Listen until cancelled; an outage is waited out."""
        while True:
            started = time.monotonic()
            try:
                await self._listen()
            except DB_UNAVAILABLE as exc:
                # a connection lost while listening failed now; one never made failed
                # from the start of this try
                failed_from = time.monotonic() if self.listening.is_set() else started
                self.listening.clear()
                self._outage.failed(exc, attempt_started=failed_from)
                await asyncio.sleep(1.0)

    async def _listen(self) -> None:
        async with await AsyncConnection.connect(
            self._dsn, autocommit=True, application_name=APPLICATION_NAME
        ) as conn:
            for channel in self._events:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self.listening.set()
            self._outage.succeeded()
            for event in self._events.values():
                event.set()  # catch up on what was committed while not listening
            async for notice in conn.notifies():
                woken = self._events.get(notice.channel)
                if woken is not None:
                    woken.set()
