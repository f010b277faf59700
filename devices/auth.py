"""The caller of an API route: a bearer token checked against `users`, and the
roles a route admits."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool

from devices.accounts import Principal, Role, TokenCheck
from kernel.errors import Forbidden, Unauthorized
from kernel.web import Conn

_bearer = HTTPBearer(auto_error=False, description="a token from `anxin users add`")


async def _principal(
    request: Request,
    conn: Conn,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        msg = "missing bearer token: send 'Authorization: Bearer anx_...'"
        raise Unauthorized(msg)
    tokens: TokenCheck = request.app.state.tokens
    return await tokens.principal(conn=conn, token=credentials.credentials)


User = Annotated[Principal, Depends(_principal)]


async def _principal_briefly(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    pool: AsyncConnectionPool = request.app.state.pool
    async with pool.connection() as conn:
        return await _principal(request, conn, credentials)


# For a long-lived response (the live stream): the pooled connection is given back as
# soon as the token is checked, not held until the client goes away.
StreamingUser = Annotated[Principal, Depends(_principal_briefly)]


def role_in(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting only these roles."""

    async def check(user: User) -> Principal:
        if user.role not in roles:
            msg = f"role {user.role} may not do this; needs one of: {', '.join(roles)}"
            raise Forbidden(msg)
        return user

    return check
