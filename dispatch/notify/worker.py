"""Delivering the outbox: every message on its own. Runs under the supervisor
(kernel.periodic.every), woken by the commit that queues a message (the poll is a
fallback for a lost notification); a database outage is waited out there.

Each claimed message is sent and settled by a task of its own, so a receiver that is
slow, silent or failing holds only its own messages: at most PER_RECEIVER of its
messages are in flight, and while it has that many no more of its messages are
claimed, so everyone else's keep flowing past it; one that keeps failing rests
(breaker.Breakers) and is tried again after its rest. A message is held by a short lease,
renewed while it is being sent: a process that dies leaves its messages due again
within a lease. A result that cannot be recorded (the database away) is kept and
recorded when it is back, so a message already sent is not sent again for that.
"""

import asyncio
import logging
import os
import socket
import time
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from dispatch.notify import outbox
from dispatch.notify.breaker import Breakers
from dispatch.notify.outbox import Message, Result
from kernel.outage import DB_UNAVAILABLE

log = logging.getLogger("anxin.notify")

# the fallback poll: a commit wakes the worker at once (outbox.NOTIFY_CHANNEL); retries
# fall due by time, and are picked up within this
POLL_S = 0.5
# sends in flight at once: enough to hide each receiver's latency, few enough not to
# swamp a small receiver with connections
CONCURRENCY = 64
# one receiver's messages in flight at once: enough for one receiver to take a burst at
# the speed it answers, and a silent one holds no more of the slots than this
PER_RECEIVER = 16
# how long a claim holds a message if nobody renews it (renewed every third of it): what
# a process that dies mid-send costs its messages
LEASE_S = 3.0
# a message still not delivered after this is given up on, loudly
GIVE_UP_AFTER_S = 24 * 3600.0
# how long the endpoints kept in the database (webhooks, robots) are used before they
# are read again; an unknown one is read at once (added at run time, used at once)
ENDPOINTS_TTL_S = 5.0


# a send's message, result and (its receiver resting) when to try it again
Outcome = tuple[Message, Result, float | None]


class Channel(Protocol):
    name: str

    async def send(self, message: Message) -> Result: ...


@runtime_checkable
class KeptEndpoints(Protocol):
    """A channel whose receivers are rows in the database (webhooks, robots)."""

    async def refresh(self, *, conn: AsyncConnection) -> None: ...

    def knows(self, recipient: str) -> bool: ...


class OutboxWorker:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        channels: Mapping[str, Channel],
        *,
        lease_s: float = LEASE_S,
        concurrency: int = CONCURRENCY,
        per_receiver: int = PER_RECEIVER,
        give_up_after_s: float = GIVE_UP_AFTER_S,
        wake: asyncio.Event | None = None,
    ) -> None:
        self._pool = pool
        # what makes the loop step (a commit sets it too): set when a send ends, as
        # that frees room for its receiver's next message
        self._wake = wake or asyncio.Event()
        self._channels = channels
        self._lease_s = lease_s
        self._concurrency = concurrency
        self._per_receiver = per_receiver
        self._give_up_after_s = give_up_after_s
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._in_flight: dict[int, Message] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._renewed = 0.0
        self._refreshed: dict[str, float] = {}  # channel -> when its endpoints were read
        self._missing: set[str] = set()  # channels told of once
        # sends ended and waiting to be recorded, and the task recording them
        self._unrecorded: list[tuple[Outcome, asyncio.Future[None]]] = []
        self._recorder: asyncio.Task[None] | None = None
        self.breakers = Breakers()

    async def step(self) -> None:
        """Renew what is being sent; claim what is due, as far as there is room, and
        start a task for each: the urgent first, by a claim of their own that never
        walks past a routine backlog."""
        await self._renew()
        for most in (outbox.URGENT, outbox.ROUTINE):
            while len(self._in_flight) < self._concurrency:
                claimed = await self._claim(self._concurrency - len(self._in_flight), most)
                for message in claimed:
                    self._in_flight[message.id] = message
                    task = asyncio.create_task(self._deliver(message))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                if not claimed:
                    break

    async def stop(self) -> None:
        """Let the sends in flight finish and be recorded (the service is stopping)."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self._lease_s)

    def _held(self) -> tuple[list[str], dict[str, int]]:
        """Receivers not to claim for now (those with their fill in flight, and those
        resting), and how many more each of the others with some in flight may have."""
        counts: dict[str, int] = {}
        for m in self._in_flight.values():
            key = outbox.receiver_key(m.channel, m.recipient)
            counts[key] = counts.get(key, 0) + 1
        probing = set(self.breakers.probing())
        room = {k: (1 if k in probing else self._per_receiver) - n for k, n in counts.items()}
        busy = [k for k, left in room.items() if left <= 0]
        return busy + self.breakers.resting(), {k: n for k, n in room.items() if n > 0}

    async def _claim(self, room: int, most: int) -> list[Message]:
        skipped, held = self._held()
        async with self._pool.connection() as conn:
            await conn.set_autocommit(True)
            try:
                claimed = await outbox.claim(
                    conn=conn, limit=room, lease_s=self._lease_s,
                    per_receiver=self._per_receiver, skip_ids=list(self._in_flight),
                    skip_receivers=skipped, probing=self.breakers.probing(), most=most,
                    room=held,
                )  # fmt: skip
                await self._refresh_endpoints(conn, claimed)
                return claimed
            finally:
                await conn.set_autocommit(False)

    async def _refresh_endpoints(self, conn: AsyncConnection, claimed: list[Message]) -> None:
        """Read again the endpoints kept in the database of the channels `claimed` goes
        to, when one of its receivers is not known yet or they were read a while ago (a
        new URL or secret); an SMS waits for none of these reads."""
        for name in {m.channel for m in claimed}:
            kept = self._channels.get(name)
            if not isinstance(kept, KeptEndpoints):
                continue
            stale = time.monotonic() - self._refreshed.get(name, -ENDPOINTS_TTL_S)
            unknown = any(not kept.knows(m.recipient) for m in claimed if m.channel == name)
            if unknown or stale >= ENDPOINTS_TTL_S:
                await kept.refresh(conn=conn)
                self._refreshed[name] = time.monotonic()

    async def _renew(self) -> None:
        if not self._in_flight or time.monotonic() - self._renewed < self._lease_s / 3:
            return
        async with self._pool.connection() as conn:
            await outbox.renew(conn=conn, ids=list(self._in_flight), lease_s=self._lease_s)
            await conn.commit()
        self._renewed = time.monotonic()

    async def _deliver(self, message: Message) -> None:
        try:
            result = await self._send(message)
            key = outbox.receiver_key(message.channel, message.recipient)
            self.breakers.record(key, message.channel, message.recipient, result)
            await self._recorded((message, result, self.breakers.rest_left_s(key)))
        except Exception:
            log.exception("message %d (%s to %s) failed", message.id, message.channel,
                          message.recipient)  # fmt: skip
        finally:
            self._in_flight.pop(message.id, None)
            self._wake.set()

    async def _recorded(self, outcome: Outcome) -> None:
        """Return once `outcome` is recorded: together with every other send that ended
        meanwhile, in one transaction. A commit is a WAL flush, and the transactions
        that open an SOS's incident and queue its texts wait behind each one: a slow
        receiver's answers, each recorded on its own, were 80 commits a second."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._unrecorded.append((outcome, done))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record())
        await done

    async def _record(self) -> None:
        while self._unrecorded:
            batch, self._unrecorded = self._unrecorded, []
            try:
                await self._settle([outcome for outcome, _ in batch])
            except Exception as exc:  # each sender logs it as its message's failure
                for _, done in batch:
                    if not done.done():  # a sender cancelled (stopping) waits no more
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def _settle(self, outcomes: list[Outcome]) -> None:
        """Record `outcomes`; while the database is away, keep them (sent but not
        recorded) until it is back: the lease is renewed meanwhile where it can be."""
        while True:
            try:
                async with self._pool.connection() as conn:
                    given_up = await outbox.settle(
                        conn=conn,
                        outcomes=outcomes,
                        worker=self.name,
                        give_up_after_s=self._give_up_after_s,
                    )
                break
            except DB_UNAVAILABLE:
                await asyncio.sleep(1.0)
        results = {m.id: r for m, r, _ in outcomes}
        for message in given_up:
            if message.channel not in self._missing:
                log.error(
                    "gave up on message %d (%s to %s) after %d attempts: %s", message.id,
                    message.channel, message.recipient, message.attempts,
                    results[message.id].error,
                )  # fmt: skip

    async def _send(self, message: Message) -> Result:
        channel = self._channels.get(message.channel)
        if channel is None:
            # e.g. no SMS provider set: the outbox keeps what would have been said
            if message.channel not in self._missing:
                self._missing.add(message.channel)
                log.error("no %s channel is configured: its messages are not sent", message.channel)
            return Result(ok=False, error=f"no {message.channel} channel is configured")
        return await channel.send(message)
