"""Help requests over HTTP: the points see what they were asked and answer it;
operators see those of their districts (all, unless limited to some): they are not the
call centre's queue, but its supervisors keep an eye on what goes unserved. Outside a
caller's scope a request is not there (404), whatever its state."""

from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Path, Query
from psycopg import AsyncConnection

from access.accounts import Principal, Role
from access.guards import User
from dispatch import requests
from dispatch.requests import RequestAction
from dispatch.routing import Router
from kernel.errors import Forbidden
from kernel.types import MAX_ID
from kernel.web import Conn, wired

router = APIRouter(prefix="/api/v1", tags=["help requests"])

RequestId = Annotated[int, Path(ge=1, le=MAX_ID, description="a help request's id")]
_READERS = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.SERVICE_POINT)


class RouterSource(Protocol):
    """What the service wires in (alerts.response.dispatching.Dispatcher): the network now."""

    async def router(self, *, conn: AsyncConnection) -> Router: ...

    def local_now(self) -> datetime: ...


# what anxin/app.py wires in (alerts.response.dispatching.Dispatcher): the network now
Routing = Annotated[RouterSource, Depends(wired("dispatcher"))]


def _scope(user: Principal) -> requests.Scope:
    """A service point user sees and answers only its own point's requests; an operator
    or supervisor limited to districts only their residents'."""
    if user.role not in _READERS:
        msg = f"role {user.role} may not see help requests"
        raise Forbidden(msg)
    if user.role is Role.SERVICE_POINT:
        return requests.Scope(point_id=user.service_point_id)
    if user.role in (Role.OPERATOR, Role.SUPERVISOR):
        return requests.Scope(districts=tuple(user.districts))
    return requests.Scope()


@router.get("/requests")
async def list_requests(
    conn: Conn,
    user: User,
    open_only: Annotated[bool, Query(alias="open", description="requested or accepted")] = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """One-key help requests, newest first: what was asked, of which point, and each
    decision with the points considered."""
    return await requests.listing(conn=conn, scope=_scope(user), open_only=open_only, limit=limit)


@router.post("/requests/{request_id}/{action}")
async def act_on_request(
    source: Routing, conn: Conn, user: User, request_id: RequestId, action: RequestAction
) -> dict[str, Any]:
    """accept, decline (the next point offering the service is asked), done, cancel."""
    scope = _scope(user)
    return await requests.act(
        conn=conn,
        router=await source.router(conn=conn),
        request_id=request_id,
        action=action,
        by=user.name,
        local_now=source.local_now(),
        scope=scope,
    )
