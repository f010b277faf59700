"""Batching between the MQTT thread and the database, with the acknowledgement rule.

- The paho thread decodes each message and appends it to a buffer (a foreign
  protocol's message is translated later, by the writer, in arrival order).
- The writer task takes up to `batch_max` messages when the buffer is full, when an
  SOS or fall arrives (never held by the timer), or `max_delay` after the oldest one,
  writes them in one transaction, hands them to the detector (whose findings are
  written as alerts), and only then acknowledges them to the broker.
- When the database is unreachable nothing is acknowledged: the batch is retried with
  backoff, the broker keeps the rest, and the outage is logged once, not per message.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from alerts.intake import Intake
from ingest import metrics
from ingest.adapters.names import DeviceNames
from ingest.decoding import Decoded, Decoder, Translation
from ingest.observations import to_observations
from ingest.ratelimit import RateLimiter, SummaryRows
from ingest.records import (
    Foreign,
    Ignored,
    Limited,
    Outcome,
    Reading,
    Rejected,
    Unresolved,
    bare_event,
)
from ingest.refusals import Refusal, render
from ingest.salvage import note
from ingest.topics import PREFIX
from ingest.writer import BatchResult, Message, write_batch
from kernel.outage import DB_UNAVAILABLE, OutageLog, why
from kernel.ratelog import BoundedLog

log = logging.getLogger("anxin.ingest")

Ack = Callable[[list[int]], None]  # acknowledge these QoS 1 message ids, in order
T = TypeVar("T")
# What the database refuses for a message's content, as opposed to being unreachable
# (DB_UNAVAILABLE) or broken (a missing table: the writer fails and is restarted).
CONTENT_REFUSED = (psycopg.DataError, psycopg.IntegrityError)


@dataclass(slots=True)
class _Pending:
    message: Message
    mid: int  # 0 and qos 0 on all but the last of what one message said (see submit)
    qos: int
    arrived: float
    wall: float  # time.time() at arrival: a message decoded again is decoded as of then
    urgent: bool  # to be written at once (an emergency)
    parts: tuple[Message, ...] = ()  # what a foreign message said, once translated


class IngestPipeline:
    def __init__(
        self,
        *,
        pool: AsyncConnectionPool,
        decoder: Decoder,
        batch_max: int,
        max_delay_s: float,
        retry_max_s: float = 2.0,
        alerts: Intake,
        outage: OutageLog | None = None,
        elsewhere: str | None = None,
        limiter: RateLimiter | None = None,
        lane: str = "readings",
        names: DeviceNames | None = None,
    ) -> None:
        """`elsewhere`: a topic suffix (`/event`) another lane stores; acknowledged
        here with its batch, and not stored. `limiter`: the rate limit per device and
        channel, beyond which messages are only counted. `names`: where the
        adapters' device names are looked up (those they return `Unresolved`)."""
        self._alerts = alerts
        self._elsewhere = elsewhere
        self._pool = pool
        self._decoder = decoder
        self._names = names or DeviceNames()
        self._batch_max = batch_max
        self._max_delay_s = max_delay_s
        self._retry_max_s = retry_max_s
        self._buffer: deque[_Pending] = deque()
        # No lock between the paho thread and the writer: deque's append and popleft
        # are atomic, and each counter has one writing thread. A lock here was where
        # the two threads queued for each other (and for the GIL) under load.
        self._urgent_in = 0  # SOS and falls submitted (paho thread)
        self._urgent_out = 0  # ... and taken into a batch (writer)
        self._wake = asyncio.Event()
        self._flushing = False  # stopping: what is held is written now, not at its timer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outage = outage or OutageLog(log)
        self._blind = False  # saw the database away since the last commit
        self._batch: list[_Pending] = []  # taken from the buffer, not yet acknowledged
        self.committed_batches = 0
        self._refusals = BoundedLog(log)
        self._limiter = limiter
        self._over_limit = {"rate": limiter.rate_per_s, "burst": limiter.burst} if limiter else {}
        # foreign messages are limited where they are translated, on the writer: a
        # limiter has one thread
        self._foreign_limiter = (
            RateLimiter(rate_per_s=limiter.rate_per_s, burst=limiter.burst) if limiter else None
        )
        self._summaries = SummaryRows()
        # read at each scrape, so it is never left at a value from the last batch
        metrics.PENDING.labels(lane).set_function(lambda: len(self._buffer) + len(self._batch))

    # -- paho thread ---------------------------------------------------------------

    def submit(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        """Called on the MQTT thread for every message. Never raises.

        A message that says several things (an adapter's) is held as several, and only
        the last carries its id: the broker's copy is acknowledged when the last part
        is committed, and batches commit in order, so by then every part is stored."""
        now = time.time()
        decoded: Decoded
        try:
            if (
                self._elsewhere is not None
                and topic.endswith(self._elsewhere)
                and topic.startswith(PREFIX)
            ):
                decoded = Ignored("stored by the events lane")
            else:
                decoded = self._decoder.decode(topic, payload, now)
        except Exception as exc:  # a codec bug must not kill the MQTT thread
            self._refusals.log(logging.ERROR, "codec", "codec failed on %s", topic, exc_info=True)
            decoded = Rejected(Refusal.DECODE_FAILED, None, {"error": type(exc).__name__})
        parts = decoded if isinstance(decoded, tuple) else (decoded,)
        if not parts:  # an adapter found nothing to store: acknowledged with the batch
            parts = (Ignored("nothing to store"),)
        wake = False
        arrived = time.monotonic()
        for k, part in enumerate(parts, start=1):
            outcome: Outcome = part
            if self._limiter is not None and isinstance(outcome, Reading | Rejected):
                outcome = self._limit(self._limiter, topic, outcome)
            urgent = isinstance(outcome, Reading) and outcome.urgent
            last = k == len(parts)
            pending = _Pending(
                Message(topic, payload, outcome),
                mid if last else 0,
                qos if last else 0,
                arrived,
                now,
                urgent,
            )
            if urgent:  # counted before it can be taken, so the difference is never < 0
                self._urgent_in += 1
                wake = True
            self._buffer.append(pending)
        size = len(self._buffer)
        before = size - len(parts)
        # wake the writer when the buffer was empty or has just filled a batch, not at
        # every message while it is over (a database outage): that would cost a loop
        # wake-up per message when nothing can be written anyway
        if (before == 0 or wake or before < self._batch_max <= size) and self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _limit(
        self, limiter: RateLimiter, topic: str, outcome: Reading | Rejected
    ) -> Reading | Rejected | Limited:
        if outcome.device_id is None:  # not a device's topic: nothing to count it against
            return outcome
        urgent = str(outcome.row[2]) if isinstance(outcome, Reading) and outcome.urgent else None
        if limiter.allow(topic, urgent):
            return outcome
        return Limited(outcome.device_id, self._over_limit)

    def flush(self) -> None:
        """Stopping: write what is held at once instead of at the batch timer (with a
        long timer, a clean stop would otherwise wait out its drain limit)."""
        self._flushing = True
        self._wake.set()

    def idle(self) -> bool:
        """Nothing buffered and no batch being written."""
        return not self._buffer and not self._batch

    # -- writer task ---------------------------------------------------------------

    async def run(self, ack: Ack) -> None:
        """Write batches until cancelled. After each commit, `ack` gets the batch's
        QoS 1 message ids in arrival order (MQTT wants PUBACKs in that order)."""
        self._loop = asyncio.get_running_loop()
        while True:
            if not self._batch:  # else a batch a failed writer left: it goes first
                await self._wait_for_batch()
                self._batch = self._take()
                if not self._batch:
                    continue
                metrics.RECEIVED.inc(len(self._batch))
            await self._commit(self._batch)
            ack([p.mid for p in self._batch if p.qos == 1])
            self._batch = []

    async def _wait_for_batch(self) -> None:
        while True:
            urgent = self._urgent_in - self._urgent_out
            oldest = self._buffer[0].arrived if self._buffer else None
            size = len(self._buffer)
            if oldest is not None:
                remaining = oldest + self._max_delay_s - time.monotonic()
                if urgent or size >= self._batch_max or remaining <= 0 or self._flushing:
                    return
            else:
                remaining = None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), remaining)

    def _take(self) -> list[_Pending]:
        popleft = self._buffer.popleft
        batch = [popleft() for _ in range(min(len(self._buffer), self._batch_max))]
        self._urgent_out += sum(1 for p in batch if p.urgent)
        return batch

    async def _commit(self, batch: list[_Pending]) -> None:
        """Store the batch, then let the detector see it, before anything is acked.

        Alerts' detector keeps the record of which devices are registered: it
        reads a device it has not seen before the batch is stored, and readings from
        ids still unknown then are dead-lettered. Each step is retried on its own
        while the database is away, so a batch is observed exactly once even when
        writing it took several attempts.
        """
        held = len(batch)
        started = time.perf_counter()
        messages = await self._until_done(lambda: self._translated(batch), held)
        device_ids = {m.outcome.device_id for m in messages if isinstance(m.outcome, Reading)}
        unregistered = await self._until_done(lambda: self._alerts.admit(device_ids), held)
        result = await self._until_done(lambda: self._store(messages, unregistered), held)
        detected = await self._detect(messages, held)
        metrics.ALERTS_OPENED.labels("detector").inc(detected)
        self._note_recovery(len(batch))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        metrics.BATCH_SIZE.observe(len(batch))
        self._count(result)
        self.committed_batches += 1

    async def _translated(self, batch: list[_Pending]) -> list[Message]:
        """The batch's messages, foreign ones translated, each once (a retry after an
        outage translates only what is left) and in arrival order. A name not looked
        up yet holds back every later message of that name in the batch too (none of
        them is in the cache until it is loaded), so a device's state is read in the
        order it was sent."""
        self._translate(batch, last_try=False)
        wanted = {
            (p.message.outcome.protocol, p.message.outcome.name)
            for p in batch
            if isinstance(p.message.outcome, Unresolved)
        }
        if wanted:
            async with self._pool.connection() as conn:
                await self._names.load(conn=conn, wanted=wanted)
            self._translate(batch, last_try=True)
        return [m for p in batch for m in (p.parts or (p.message,))]

    def _translate(self, batch: list[_Pending], *, last_try: bool) -> None:
        for p in batch:
            m = p.message
            if p.parts or not isinstance(m.outcome, Foreign | Unresolved):
                continue
            translated = self._translation(m, p.wall)
            if isinstance(translated, Unresolved):
                if not last_try:
                    p.message = Message(m.topic, m.payload, translated)
                    continue
                translated = Rejected(  # renamed since it was looked up: a race, not a fault
                    Refusal.NAME_LOOKUP_FAILED,
                    None,
                    {"protocol": translated.protocol, "name": translated.name[:120]},
                )
            parts = translated if isinstance(translated, tuple) else (translated,)
            outcomes: list[Outcome] = [
                self._limit(self._foreign_limiter, m.topic, part)
                if self._foreign_limiter is not None and isinstance(part, Reading | Rejected)
                else part
                for part in parts
            ]
            p.parts = tuple(
                Message(m.topic, m.payload, outcome)
                for outcome in outcomes or [Ignored("nothing to store")]
            )

    def _translation(self, m: Message, wall: float) -> Translation:
        """What the adapter makes of `m`; an adapter's bug is the message's dead letter,
        never the writer's end (it would meet the same message again at each restart)."""
        try:
            return self._decoder.translate(m.topic, m.payload, wall)
        except Exception as exc:
            self._refusals.log(
                logging.ERROR, "codec", "adapter failed on %s", m.topic, exc_info=True
            )
            return Rejected(Refusal.DECODE_FAILED, None, {"error": type(exc).__name__})

    async def _detect(self, messages: list[Message], held: int) -> int:
        readings = [m.outcome for m in messages if isinstance(m.outcome, Reading)]
        if not readings:
            return 0
        try:
            outcomes = self._alerts.observe(to_observations(readings, self._alerts.device_index))
        except Exception:  # a detector bug must not stop the data from flowing
            log.exception("detector failed on a batch of %d readings; stored, not analysed", held)
            return 0
        if not outcomes:
            return 0
        try:
            return await self._until_done(lambda: self._alerts.apply(outcomes), held)
        except CONTENT_REFUSED:  # the readings are stored regardless
            log.exception("database refused %d alerts from a batch", len(outcomes))
            return 0

    async def _until_done(self, step: Callable[[], Awaitable[T]], held: int) -> T:
        """Run a database step until it succeeds, with backoff while it is unreachable."""
        delay = 0.2
        while True:
            attempt_started = time.monotonic()
            try:
                return await step()
            except DB_UNAVAILABLE as exc:
                self._note_outage(exc, held, attempt_started)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)

    async def _store(self, messages: list[Message], unregistered: set[str]) -> BatchResult:
        """Write a batch; if the database refuses it for its content (not for being
        away), split it in halves until the refused messages are alone, and store
        those as dead letters (an emergency event without its optional fields)."""
        try:
            return await self._write(messages, unregistered)
        except CONTENT_REFUSED as exc:
            if len(messages) > 1:
                self._refusals.log(
                    logging.WARNING,
                    "batch refused",
                    "database refused a batch of %d for its content (%s); splitting it",
                    len(messages),
                    why(exc),
                )
                half = len(messages) // 2
                result = await self._store(messages[:half], unregistered)
                return result.add(await self._store(messages[half:], unregistered))
            return await self._store_refused(messages[0], exc, unregistered)

    async def _store_refused(
        self, message: Message, exc: psycopg.Error, unregistered: set[str]
    ) -> BatchResult:
        outcome = message.outcome
        # PostgreSQL's code and the constraint's name, not its sentence
        refusal = {"sqlstate": exc.sqlstate or "?", "constraint": exc.diag.constraint_name}
        if isinstance(outcome, Reading) and outcome.urgent:
            damage = note(
                "details_dropped",
                **refusal,
                zh="数据库拒收该行，仅保留事件的类型、时间和标识",
                en=render(Refusal.DB_REFUSED, refusal),
            )
            message.outcome = bare_event(outcome, damage)
            try:
                return await self._write([message], unregistered)
            except CONTENT_REFUSED:
                log.exception("database refused an emergency event even without its details")
        device_id = outcome.device_id if isinstance(outcome, Reading | Rejected) else None
        message.outcome = Rejected(Refusal.DB_REFUSED, device_id, refusal)
        return await self._write([message], unregistered)

    async def _write(self, messages: list[Message], unregistered: set[str]) -> BatchResult:
        async with self._pool.connection() as conn, conn.transaction():
            return await write_batch(
                conn=conn,
                messages=messages,
                unregistered=unregistered,
                alerts=self._alerts,
                summaries=self._summaries,
            )

    def _note_outage(self, exc: Exception, held: int, attempt_started: float) -> None:
        self._blind = True
        detail = f"holding {held} messages unacknowledged until it is back"
        self._outage.failed(exc, attempt_started=attempt_started, detail=detail)

    def _note_recovery(self, held: int) -> None:
        self._outage.succeeded()
        if self._blind:
            self._blind = False
            self._alerts.watch_from(time.time())  # blind while away: silence counts from now
            log.info("committed the %d messages held through the database outage", held)

    def _count(self, result: BatchResult) -> None:
        for channel, n in result.inserted.items():
            metrics.STORED.labels(str(channel)).inc(n)
        metrics.DEAD_LETTERS.inc(result.dead_letters)
        metrics.ALERTS_OPENED.labels("emergency").inc(result.alerts_opened)
        metrics.OVER_LIMIT.inc(result.over_limit)
        for topic in result.newly_over_limit:
            self._refusals.log(
                logging.WARNING,
                "over limit",
                "%s: %s; the device is flagged",
                topic,
                render(Refusal.OVER_LIMIT, self._over_limit),
            )
