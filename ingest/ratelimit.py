"""A rate limit per device and channel, so one device cannot take ingest's capacity.

A token bucket per topic (one topic per device and channel) lets `burst` messages
through at once (a watch flushing what it buffered on a flaky link), then `rate_per_s`
a second. A message beyond that is acknowledged and counted, not stored: the writer
keeps one dead letter per device, channel and window saying how many, and flags the
device. An emergency event is never only counted: the first of each type a second
from a device still goes through, so a stuck button cannot hide a real press.

Runs on the MQTT thread of one lane, which alone touches it.
"""

import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float  # monotonic time `tokens` was counted at
    urgent_at: dict[str, float] = field(default_factory=dict)  # per event type


class RateLimiter:
    # Buckets are kept per topic ever seen; beyond this many, the full (idle) ones go.
    MAX_BUCKETS = 200_000
    URGENT_GAP_S = 1.0

    def __init__(self, *, rate_per_s: float, burst: int) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, topic: str, urgent: str | None = None, now: float | None = None) -> bool:
        """Take one message on `topic`; False when it is over the limit. `urgent`: the
        emergency event type it carries, if any."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(topic)
        if bucket is None:
            if len(self._buckets) >= self.MAX_BUCKETS:
                self._forget_idle(now)
            bucket = self._buckets[topic] = _Bucket(float(self.burst), now)
        tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate_per_s)
        bucket.at = now
        if tokens >= 1.0:
            bucket.tokens = tokens - 1.0
            return True
        bucket.tokens = tokens
        if urgent is not None and now - bucket.urgent_at.get(urgent, -1e9) >= self.URGENT_GAP_S:
            bucket.urgent_at[urgent] = now
            return True
        return False

    def _forget_idle(self, now: float) -> None:
        full_after = self.burst / self.rate_per_s
        idle = [t for t, b in self._buckets.items() if now - b.at >= full_after]
        for topic in idle:
            del self._buckets[topic]
        if len(self._buckets) >= self.MAX_BUCKETS:  # all busy: a flood of made-up topics
            self._buckets.clear()


class SummaryRows:
    """Which summary dead letter each topic over its limit adds to (writer side).

    A device flooding for an hour leaves one row a window, not one per batch; a row id
    from a transaction that rolled back is simply not found, and a new row is made.
    """

    WINDOW_S = 60.0

    def __init__(self) -> None:
        self._open: dict[str, tuple[int, float]] = {}  # topic -> (row id, opened at)

    def row(self, topic: str, now: float | None = None) -> int | None:
        now = time.monotonic() if now is None else now
        found = self._open.get(topic)
        if found is None or now - found[1] >= self.WINDOW_S:
            return None
        return found[0]

    def opened(self, topic: str, row_id: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if len(self._open) >= RateLimiter.MAX_BUCKETS:
            self._open = {t: r for t, r in self._open.items() if now - r[1] < self.WINDOW_S}
        self._open[topic] = (row_id, now)
