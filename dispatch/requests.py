"""One-key help (一键求助): a resident asks for a meal, a bath, cleaning, an escort, a
nurse or a doctor, and the nearest point that offers it now is asked, as incidents
are routed, but on a short lifecycle of its own (requested → accepted → done, or
cancelled) that never reaches the call centre. A decline asks the next point.
Dispatch owns `service_requests`.
"""

import json
from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from dispatch.models import Capability
from dispatch.notify import plan
from dispatch.routing import Router, mask
from kernel.errors import Conflict, NotFound


class RequestStatus(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    DONE = "done"
    CANCELLED = "cancelled"


class RequestAction(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    DONE = "done"
    CANCEL = "cancel"


R = RequestStatus
MOVES: dict[RequestAction, dict[RequestStatus, RequestStatus]] = {
    RequestAction.ACCEPT: {R.REQUESTED: R.ACCEPTED},
    RequestAction.DECLINE: {R.REQUESTED: R.REQUESTED},
    RequestAction.DONE: {R.ACCEPTED: R.DONE},
    RequestAction.CANCEL: {R.REQUESTED: R.CANCELLED, R.ACCEPTED: R.CANCELLED},
}


class UnknownRequest(NotFound):
    code = "unknown_request"
    zh_default = "没有这个求助，或不在您的权限范围内"


class IllegalRequestMove(Conflict):
    code = "illegal_request_move"
    zh_default = "此求助当前状态下不能这样操作"


async def open_request(
    *,
    conn: AsyncConnection,
    router: Router,
    key: str,
    at: datetime,
    device_id: str,
    resident_id: str | None,
    service: str,
    place: tuple[float, float] | None,
    local_now: datetime,
) -> int | None:
    """Record the request and ask the nearest point offering `service` (its people on
    shift at `local_now` are texted); None when this press was recorded already
    (redelivered)."""
    cur = await conn.execute(
        "INSERT INTO service_requests (key, requested_at, device_id, resident_id, service,"
        " lat, lon) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO NOTHING RETURNING id",
        (key, at, device_id, resident_id, service, *(place or (None, None))),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    await _route(conn, router, int(row[0]), place, service, refused=(), local_now=local_now)
    return int(row[0])


async def _route(
    conn: AsyncConnection,
    router: Router,
    request_id: int,
    place: tuple[float, float] | None,
    service: str,
    *,
    refused: Collection[str],
    local_now: datetime,
) -> str | None:
    """Ask the nearest point offering the service now; note the decision and text the
    point's people on shift."""
    if place is None:
        decision: dict[str, Any] = {"decision": "no_place"}
        point_id, minutes = None, None
    else:
        ranking = router.rank(*place, mask([Capability(service)]), refused=refused)
        best = ranking.best
        point_id, minutes = (best.point_id, best.minutes) if best else (None, None)
        decision = {
            "decision": "asked" if best else "no_point",
            "considered": [asdict(c) for c in ranking.considered],
            "outside": asdict(ranking.outside) if ranking.outside else None,
        }
    await conn.execute(
        "UPDATE service_requests SET point_id = %s, minutes = %s,"
        " history = history || %s::jsonb WHERE id = %s",
        (point_id, minutes, json.dumps([{**decision, "point_id": point_id}]), request_id),
    )
    if point_id is not None:
        await _tell(conn, request_id, point_id, service, local_now)
    return point_id


SERVICE_WORDS = {
    "meal": "助餐", "bath": "助浴", "cleaning": "助洁", "escort": "助行", "medical": "助医",
    "nursing": "护理",
}  # fmt: skip


async def _tell(
    conn: AsyncConnection, request_id: int, point_id: str, service: str, local_now: datetime
) -> None:
    cur = await conn.execute(
        "SELECT r.name, r.address, r.phone FROM service_requests q"
        " LEFT JOIN resident_directory r ON r.id = q.resident_id WHERE q.id = %s",
        (request_id,),
    )
    row = await cur.fetchone()
    name, address, phone = row if row is not None else (None, None, None)
    params = {
        "who": name or "未登记的居民", "service": SERVICE_WORDS.get(service, service),
        "address": address or "未登记", "phone": phone or "未登记",
    }  # fmt: skip
    await plan.tell_point(
        conn=conn, incident_id=None, point_id=point_id, params=params, at=local_now,
        template="help_request",
    )  # fmt: skip


@dataclass(frozen=True)
class Scope:
    """Whose help requests a caller sees and acts on: a service point only those it was
    asked; an operator or supervisor limited to districts only their residents'; the
    rest, all."""

    point_id: str | None = None
    districts: tuple[str, ...] = ()

    def covers(self, *, point_id: str | None, district: str | None) -> bool:
        if self.point_id is not None and point_id != self.point_id:
            return False
        return not self.districts or district in self.districts


async def act(
    *,
    conn: AsyncConnection,
    router: Router,
    request_id: int,
    action: RequestAction,
    by: str,
    local_now: datetime,
    scope: Scope | None = None,
) -> dict[str, Any]:
    """Move a request on. `scope`: whose requests the caller may see and answer; one
    outside it is not there (404), whatever its state."""
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT q.status, q.point_id, q.lat, q.lon, q.service, q.declined_by,"
            " r.district FROM service_requests q"
            " LEFT JOIN resident_directory r ON r.id = q.resident_id"
            " WHERE q.id = %s FOR UPDATE OF q",
            (request_id,),
        )
        row = await cur.fetchone()
        if row is None or not (scope or Scope()).covers(point_id=row[1], district=row[6]):
            msg = f"no help request {request_id}"
            raise UnknownRequest(msg)
        status, asked, lat, lon, service, declined, _district = row
        to = MOVES[action].get(RequestStatus(status))
        if to is None:
            legal = [str(a) for a, moves in MOVES.items() if RequestStatus(status) in moves]
            msg = f"cannot {action} a request that is {status}; legal: {', '.join(legal)}"
            raise IllegalRequestMove(msg)
        if action is RequestAction.DECLINE:
            if asked is None:
                msg = "no point has been asked to take this request"
                raise IllegalRequestMove(msg)
            refused = {*declined, asked}
            await conn.execute(
                "UPDATE service_requests SET declined_by = %s,"
                " history = history || %s::jsonb WHERE id = %s",
                (sorted(refused), json.dumps([{"decision": "declined", "point_id": asked,
                 "by": by}]), request_id),
            )  # fmt: skip
            place = (lat, lon) if lat is not None else None
            await _route(
                conn, router, request_id, place, service, refused=refused, local_now=local_now
            )
        else:
            stamp = {R.ACCEPTED: "accepted_at", R.DONE: "done_at", R.CANCELLED: "closed_at"}[to]
            await conn.execute(
                f"UPDATE service_requests SET status = %s, {stamp} = now(),"
                " history = history || %s::jsonb WHERE id = %s",
                (str(to), json.dumps([{"decision": str(action), "by": by}]), request_id),
            )
    return await get(conn=conn, request_id=request_id)


async def get(*, conn: AsyncConnection, request_id: int) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_SELECT + " WHERE id = %s", (request_id,))
        row = await cur.fetchone()
    if row is None:
        msg = f"no help request {request_id}"
        raise UnknownRequest(msg)
    return row


async def listing(
    *, conn: AsyncConnection, scope: Scope, open_only: bool, limit: int
) -> list[dict[str, Any]]:
    """Newest first; only those in the caller's scope."""
    where: list[str] = ["true"]
    params: list[object] = []
    if scope.point_id is not None:
        where.append("point_id = %s")
        params.append(scope.point_id)
    if scope.districts:
        where.append("resident_id IN (SELECT id FROM resident_directory WHERE district = ANY(%s))")
        params.append(list(scope.districts))
    if open_only:
        where.append("status IN ('requested', 'accepted')")
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            _SELECT + f" WHERE {' AND '.join(where)} ORDER BY requested_at DESC, id DESC LIMIT %s",
            (*params, limit),
        )
        return await cur.fetchall()


_SELECT = (
    "SELECT id, requested_at, device_id, resident_id, service, status, point_id, minutes,"
    " declined_by, accepted_at, done_at, closed_at, history FROM service_requests"
)
