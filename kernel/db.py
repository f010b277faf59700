"""What a database outage looks like to the code that waits it out."""

import psycopg
from psycopg_pool import PoolTimeout

# Unreachable, restarting, or no pooled connection in time: retry later, never drop data.
DB_UNAVAILABLE = (psycopg.OperationalError, PoolTimeout)


def first_line(exc: BaseException) -> str:
    """An exception's message on one line, for a log line or a dead letter's reason."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
