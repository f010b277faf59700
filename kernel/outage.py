"""What an outage (of the database, or the broker) looks like to the code that waits
it out."""

import logging
import threading
import time
from collections.abc import Callable

import psycopg
from psycopg_pool import PoolTimeout

# Unreachable, restarting, or no pooled connection in time: retry later, never drop data.
DB_UNAVAILABLE = (psycopg.OperationalError, PoolTimeout)


# SQLSTATEs a person meets when the database is away or refuses them, in our words
_WORDS = {
    "28P01": "the password was refused",
    "28000": "this user may not connect",
    "3D000": "no such database",
    "53300": "too many connections",
    "57P01": "the server is shutting down",
    "57P02": "the server crashed",
    "57P03": "the server is starting up",
    "08001": "no connection could be made",
    "08006": "the connection was lost",
}


def why(exc: BaseException) -> str:
    """Why a database step failed, in the project's words with PostgreSQL's code (never
    libpq's sentence, which a release or a locale may word otherwise)."""
    if isinstance(exc, PoolTimeout):
        return "no pooled connection in time"
    if isinstance(exc, psycopg.Error):
        code = exc.sqlstate
        if code in _WORDS:
            return f"{_WORDS[code]} (SQLSTATE {code})"
        if code:
            constraint = exc.diag.constraint_name
            return f"refused (SQLSTATE {code}{f', constraint {constraint}' if constraint else ''})"
        if isinstance(exc, psycopg.OperationalError):
            return "no answer: the server is down, unreachable or refusing connections"
    return type(exc).__name__


class OutageLog:
    """One database outage, however many tasks notice it: logged once, when the first
    of them fails, and once more when any of them gets through, with its true length.

    The length counts from the start of the first attempt that failed, not from when
    the failure surfaced: waiting for a pooled connection can take seconds.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        on_start: Callable[[], object] | None = None,
        away: str = "database unavailable",
        back: str = "database back",
    ) -> None:
        """`on_start`: called once as each outage begins (e.g. to count it); `away` and
        `back` say what is out (the broker's outages are told the same way)."""
        self._log = logger
        self._on_start = on_start
        self._away, self._back = away, back
        self.since: float | None = None  # monotonic start of the outage, while one lasts
        self._ended = -float("inf")  # when the last one ended
        # the broker's connections call from their own threads
        self._lock = threading.Lock()

    def failed(
        self, exc: BaseException | None, *, attempt_started: float, detail: str = ""
    ) -> None:
        """An attempt begun at `attempt_started` failed. One begun before the last outage
        ended (a task that waited on the pool all through it) belongs to that outage, not
        to a new one."""
        with self._lock:
            if self.since is not None or attempt_started < self._ended:
                return
            self.since = attempt_started
        because = f": {why(exc)}" if exc is not None else ""
        self._log.error("%s%s%s", self._away, f", {detail}" if detail else "", because)
        if self._on_start is not None:
            self._on_start()

    def succeeded(self) -> float | None:
        """Call after a database step went through; returns the outage's length in
        seconds if this ended one."""
        with self._lock:
            if self.since is None:
                return None
            self._ended = time.monotonic()
            lasted, self.since = self._ended - self.since, None
        self._log.warning("%s after %.1fs", self._back, lasted)
        return lasted
