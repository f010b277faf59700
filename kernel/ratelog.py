"""Logging a repeated failure at a bounded rate.

A device that sends the same broken payload a thousand times a second must not turn
the log into a thousand lines a second: the first occurrence of each kind is logged
at once, then at most one line per interval saying how many were not logged.
"""

import logging
import time


class BoundedLog:
    def __init__(self, logger: logging.Logger, *, interval_s: float = 60.0) -> None:
        self._log = logger
        self._interval_s = interval_s
        self._next: dict[str, float] = {}  # per kind: when the next line may go out
        self._held: dict[str, int] = {}  # per kind: occurrences since the last line

    def log(self, level: int, kind: str, msg: str, *args: object, exc_info: bool = False) -> bool:
        """Log `msg` unless `kind` was logged within the interval; True if logged."""
        now = time.monotonic()
        if now < self._next.get(kind, 0.0):
            self._held[kind] = self._held.get(kind, 0) + 1
            return False
        held = self._held.pop(kind, 0)
        if held:
            msg += f" (and {held} more like it in the last {self._interval_s:.0f}s)"
        self._next[kind] = now + self._interval_s
        self._log.log(level, msg, *args, exc_info=exc_info)
        return True
