"""What a database outage looks like to the code that waits it out."""

import psycopg
from psycopg_pool import PoolTimeout

# Unreachable, restarting, or no pooled connection in time: retry later, never drop data.
DB_UNAVAILABLE = (psycopg.OperationalError, PoolTimeout)
