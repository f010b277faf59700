"""What every domain's API router shares: a database connection per request."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool


async def _connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """A pooled connection in autocommit: a service function that changes things opens
    its own transaction, which commits before the response is sent."""
    pool: AsyncConnectionPool = request.app.state.pool
    async with pool.connection() as conn:
        await conn.set_autocommit(True)
        try:
            yield conn
        finally:
            if not conn.closed:  # a broken one is the pool's to replace
                await conn.set_autocommit(False)  # as the pool's other users expect it


Conn = Annotated[AsyncConnection, Depends(_connection)]
