"""The caller of an API route: a bearer token checked against `users` (sent as the
`Authorization` header, or by the dashboard as its session cookie), and the roles a
route admits."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool

from access.accounts import Principal, Role, TokenCheck
from kernel.errors import Forbidden, Unauthorized
from kernel.web import Conn, wired

_bearer = HTTPBearer(auto_error=False, description="a token from `anxin users add`")

# The dashboard's session: the same token, in a cookie script cannot read
# (HttpOnly, SameSite=Strict). A browser sends it to any request for this site, so a
# request that changes something must also carry a header only the dashboard's own
# script sets (another site's form cannot; its script would need CORS, not granted).
SESSION_COOKIE = "anxin_session"
CSRF_HEADER = "X-Anxin-Request"
_SAFE = {"GET", "HEAD", "OPTIONS"}

# what anxin/app.py wires in: the token check (with its memory of verified tokens)
Tokens = Annotated[TokenCheck, Depends(wired("tokens"))]
Pool = Annotated[AsyncConnectionPool, Depends(wired("pool"))]


def _token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is not None:
        return credentials.credentials
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is None:
        msg = "missing bearer token: send 'Authorization: Bearer anx_...'"
        raise Unauthorized(msg)
    if request.method not in _SAFE and request.headers.get(CSRF_HEADER) != "1":
        msg = f"a change made with the session cookie needs the header '{CSRF_HEADER}: 1'"
        raise Forbidden(msg)
    return cookie


async def _principal(
    request: Request,
    conn: Conn,
    tokens: Tokens,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return await tokens.principal(conn=conn, token=_token(request, credentials))


User = Annotated[Principal, Depends(_principal)]


async def _principal_briefly(
    request: Request,
    pool: Pool,
    tokens: Tokens,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    async with pool.connection() as conn:
        return await _principal(request, conn, tokens, credentials)


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
