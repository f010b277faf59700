"""Delivering the outbox: claim due messages, send them concurrently, record each
attempt. Runs under the supervisor (alerts.workers.every); a database outage is
waited out there, and a receiver that is down only delays its messages."""

import asyncio
import logging
import os
import socket
from collections.abc import Mapping
from typing import Protocol

from psycopg_pool import AsyncConnectionPool

from dispatch.notify import outbox
from dispatch.notify.outbox import Message, Result

log = logging.getLogger("anxin.notify")

POLL_S = 0.2
BATCH = 200
# sends in flight at once: enough to hide each receiver's latency, few enough not to
# swamp a small receiver with connections
CONCURRENCY = 32
# longer than any one send may take (the HTTP client's timeout), so a message is held
# by one worker at a time
LEASE_S = 60.0
# a message still not delivered after this is given up on, loudly
GIVE_UP_AFTER_S = 24 * 3600.0


class Channel(Protocol):
    name: str

    async def send(self, message: Message) -> Result: ...


class OutboxWorker:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        channels: Mapping[str, Channel],
        *,
        batch: int = BATCH,
        lease_s: float = LEASE_S,
        give_up_after_s: float = GIVE_UP_AFTER_S,
    ) -> None:
        self._pool = pool
        self._channels = channels
        self._batch = batch
        self._lease_s = lease_s
        self._give_up_after_s = give_up_after_s
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._in_flight = asyncio.Semaphore(CONCURRENCY)
        self._missing: set[str] = set()  # channels told of once

    async def step(self) -> None:
        """Send what is due, batch after batch, until nothing is."""
        while await self._round() == self._batch:
            pass

    async def _round(self) -> int:
        async with self._pool.connection() as conn:
            await conn.set_autocommit(True)
            try:
                claimed = await outbox.claim(conn=conn, limit=self._batch, lease_s=self._lease_s)
                if not claimed:
                    return 0
                for channel in self._channels.values():
                    # endpoints kept in the database: added at run time, used at once
                    refresh = getattr(channel, "refresh", None)
                    if refresh is not None:
                        await refresh(conn)
            finally:
                await conn.set_autocommit(False)
        results = await asyncio.gather(*(self._send(m) for m in claimed))
        async with self._pool.connection() as conn:
            given_up = await outbox.settle(
                conn=conn,
                outcomes=list(zip(claimed, results, strict=True)),
                worker=self.name,
                give_up_after_s=self._give_up_after_s,
            )
        for message in given_up:
            if message.channel in self._missing:
                continue  # said once already
            result = results[claimed.index(message)]
            log.error(
                "gave up on message %d (%s to %s) after %d attempts: %s",
                message.id, message.channel, message.recipient, message.attempts, result.error,
            )  # fmt: skip
        return len(claimed)

    async def _send(self, message: Message) -> Result:
        channel = self._channels.get(message.channel)
        if channel is None:
            # e.g. no SMS provider set: the outbox keeps what would have been said
            if message.channel not in self._missing:
                self._missing.add(message.channel)
                log.error("no %s channel is configured: its messages are not sent", message.channel)
            return Result(ok=False, error=f"no {message.channel} channel is configured")
        async with self._in_flight:
            return await channel.send(message)
