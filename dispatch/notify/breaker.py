"""One circuit breaker per receiver (a webhook URL, an SMS provider, a chat robot): a
receiver failing again and again rests, its messages waiting, while everyone else's
flow; after the rest one message at a time probes it, and a receiver that answers is
back at once, its backlog claimed in the next step. Said once in the log when it
starts failing, once with the outage's true length when it is back, and in /metrics
and /readyz.

Only failures worth retrying count (a timeout, a 5xx, the receiver unreachable): a
refusal of one message (a 4xx, a bad number) says nothing about the receiver.
"""

import logging
import time
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from dispatch.notify.outbox import Result

log = logging.getLogger("anxin.notify")

# retryable failures in a row that make a receiver rest
FAILS_TO_REST = 3
# the first rest; doubled by each probe that fails, up to MAX_REST_S: a receiver that
# comes back gets its backlog within seconds
REST_S = 1.0
MAX_REST_S = 5.0

RESTING = Gauge("anxin_notify_receivers_resting", "receivers resting after repeated failures")
OUTAGES = Counter(
    "anxin_notify_receiver_outages_total", "receivers that began failing", ["channel"]
)


@dataclass
class _State:
    channel: str
    recipient: str
    first_failed: float  # monotonic: the outage's true start
    fails: int = 0
    failing_since: float | None = None  # monotonic; set when the breaker opened
    rest_until: float = 0.0
    rest_s: float = REST_S
    last_error: str | None = None


class Breakers:
    def __init__(self) -> None:
        self._states: dict[str, _State] = {}

    def record(self, key: str, channel: str, recipient: str, result: Result) -> None:
        """What one send to a receiver came to."""
        state = self._states.get(key)
        if result.ok or not result.retry:
            if state is not None:
                self._back(key, state)
            return
        if state is None:
            state = self._states[key] = _State(channel, recipient, time.monotonic())
        state.fails += 1
        state.last_error = result.error
        now = time.monotonic()
        if state.failing_since is None:
            if state.fails >= FAILS_TO_REST:
                state.failing_since = now
                state.rest_until = now + state.rest_s
                OUTAGES.labels(channel).inc()
                RESTING.set(self._count_resting())
                log.error(
                    "receiver %s %s failing (%d in a row, last: %s): its messages wait,"
                    " others go on",
                    channel, recipient, state.fails, result.error,
                )  # fmt: skip
        else:  # a probe failed: rest longer
            state.rest_s = min(MAX_REST_S, state.rest_s * 2)
            state.rest_until = now + state.rest_s

    def resting(self) -> list[str]:
        """Receivers whose messages are not to be claimed now (resting, not yet due
        for their probe)."""
        now = time.monotonic()
        return [k for k, s in self._states.items() if s.rest_until > now]

    def probing(self) -> list[str]:
        """Receivers failing whose rest is over: tried again with one message at a
        time until one gets through."""
        now = time.monotonic()
        return [
            k
            for k, s in self._states.items()
            if s.failing_since is not None and s.rest_until <= now
        ]

    def rest_left_s(self, key: str) -> float | None:
        """How long a failed message to this receiver should wait: its rest, when the
        receiver is resting (a retry any sooner would only be skipped)."""
        state = self._states.get(key)
        if state is None or state.failing_since is None:
            return None
        return max(0.0, state.rest_until - time.monotonic())

    def describe(self) -> list[dict[str, object]]:
        """For /readyz: each receiver out, since when and why."""
        now = time.monotonic()
        return [
            {
                "channel": s.channel,
                "recipient": s.recipient,
                "failing_for_s": round(now - s.first_failed, 1),
                "failures": s.fails,
                "last_error": s.last_error,
            }
            for s in self._states.values()
            if s.failing_since is not None
        ]

    def _back(self, key: str, state: _State) -> None:
        del self._states[key]
        if state.failing_since is not None:
            RESTING.set(self._count_resting())
            log.warning(
                "receiver %s %s back after %.1fs (%d failures)",
                state.channel, state.recipient, time.monotonic() - state.first_failed,
                state.fails,
            )  # fmt: skip

    def _count_resting(self) -> int:
        return sum(1 for s in self._states.values() if s.failing_since is not None)
