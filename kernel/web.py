"""What every domain's API router shares: a database connection per request, and the
parts the composition root wires in (anxin/app.py puts each on the app's state; a
route asks for it as a dependency, by name and type, never by reaching for the app)."""

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

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


def wired(name: str) -> Callable[[Request], Any]:
    """A dependency: the part anxin/app.py wired in under `name`, e.g.
    `Annotated[Dispatcher, Depends(wired("dispatcher"))]`."""

    def part(request: Request) -> Any:
        return getattr(request.app.state, name)

    part.__name__ = f"wired_{name}"
    return part
