"""Residents over the API: who they are, for operators and for their own caregivers."""

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from pydantic import BaseModel, Field

from access.accounts import Principal, Role
from access.guards import SESSION_COOKIE, Tokens, User, role_in
from devices import commands, health, service
from devices.commands import Command, CommandIn, Publish
from devices.errors import UnknownDevice, UnknownResident
from devices.models import Resident, ResidentIn, ResidentProfile
from kernel.errors import Forbidden, Unavailable
from kernel.language import pick_language
from kernel.types import DeviceId, RequestBody, ResidentId
from kernel.web import Conn, wired

router = APIRouter(prefix="/api/v1", tags=["residents"])

RID = Annotated[ResidentId, Path(description="the resident's id")]
DID = Annotated[DeviceId, Path(description="the device's id")]
Editor = Annotated[Principal, Depends(role_in(Role.ADMIN, Role.SUPERVISOR))]
Staff = Annotated[Principal, Depends(role_in(Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN))]
# what anxin/app.py wires in
Thresholds = Annotated[health.Thresholds, Depends(wired("maintenance"))]
TimeZone = Annotated[str, Depends(wired("time_zone"))]
Publisher = Annotated[Publish, Depends(wired("publish_command"))]


class SessionIn(RequestBody):
    token: str = Field(min_length=1, max_length=200, description="from `anxin users add`")


class Me(BaseModel):
    name: str
    role: Role
    districts: list[str]
    service_point_id: str | None
    language: str


def _me(user: Principal) -> Me:
    return Me(
        name=user.name,
        role=user.role,
        districts=list(user.districts),
        service_point_id=user.service_point_id,
        language=str(user.language),
    )


@router.post("/session", response_model=Me, tags=["session"])
async def log_in(
    request: Request, response: Response, conn: Conn, tokens: Tokens, body: SessionIn
) -> Me:
    """The dashboard's login: the token becomes an HttpOnly session cookie for this
    site (12 hours, a shift and some), so the page's script never holds it."""
    user = await tokens.principal(conn=conn, token=body.token.strip())
    response.set_cookie(
        SESSION_COOKIE,
        body.token.strip(),
        max_age=12 * 3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return _me(user)


@router.delete("/session", status_code=204, tags=["session"])
async def log_out(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=Me, tags=["session"])
async def me(user: User) -> Me:
    """Who the token or session belongs to, and what they may see."""
    return _me(user)


@router.get("/residents/{resident_id}", response_model=Resident)
async def get_resident(conn: Conn, user: User, resident_id: RID) -> Resident:
    """Profile, emergency contacts in calling order. Service-point staff see a resident
    through the incident assigned to them (GET /alerts/{id}), not here."""
    if user.role is Role.SERVICE_POINT:
        msg = "service-point staff read residents through their incidents"
        raise UnknownResident(msg)
    resident = await service.get_resident(conn=conn, resident_id=resident_id)
    if not _sees(user, resident):
        msg = f"unknown resident {resident_id!r}"
        raise UnknownResident(msg)
    return resident


@router.put("/residents/{resident_id}", response_model=Resident)
async def put_resident(
    conn: Conn, user: Editor, resident_id: RID, body: ResidentProfile
) -> Resident:
    """Add or replace a resident (contacts too, when the body lists them). One outside
    the caller's districts is not there: it can be neither read nor taken over."""
    try:
        existing = await service.get_resident(conn=conn, resident_id=resident_id)
    except UnknownResident:
        existing = None
    if existing is not None and not _sees(user, existing):
        msg = f"unknown resident {resident_id!r}"
        raise UnknownResident(msg)
    if user.districts and body.district not in user.districts:
        msg = f"district {body.district!r} is outside yours"
        raise Forbidden(msg, zh="只能登记您所辖区的老人")
    async with conn.transaction():
        resident = ResidentIn.model_validate({**body.model_dump(), "id": resident_id})
        await service.add_residents(conn=conn, residents=[resident])
    return await service.get_resident(conn=conn, resident_id=resident_id)


def _sees(user: Principal, resident: Resident) -> bool:
    if user.role is Role.CAREGIVER:
        return any(c.phone == user.phone for c in resident.contacts or [])
    if user.districts:
        return resident.district in user.districts
    return True


@router.get("/devices/health", response_model=list[health.Task], tags=["devices"])
async def device_health(
    conn: Conn,
    user: Staff,
    thresholds: Thresholds,
    time_zone: TimeZone,
    accept_language: Annotated[str | None, Header(max_length=200)] = None,
) -> list[health.Task]:
    """Maintenance tasks: devices never heard from since registration, SOS buttons not
    test-pressed this week, batteries that will be empty within the week or say they
    are low. Not pages: a list to work through (in the user's district)."""
    return await health.maintenance_tasks(
        conn=conn, now=datetime.now(UTC), thresholds=thresholds,
        districts=list(user.districts) or None,
        lang=pick_language(accept_language, user.language),
        tz=ZoneInfo(time_zone),
    )  # fmt: skip


@router.post(
    "/devices/{device_id}/commands", status_code=202, response_model=Command, tags=["devices"]
)
async def command_device(
    conn: Conn, user: Staff, device_id: DID, body: CommandIn, publish: Publisher
) -> Command:
    """Ask a device to locate itself now, report every N seconds, or call these numbers
    on SOS. 202 once the broker has it (the answer comes later: GET .../commands); 503
    if the broker could not take it (recorded, not retried)."""
    await _device_in_scope(conn, user, device_id)
    sent = await commands.send(
        conn=conn, device_id=device_id, command=body, actor=user.name,
        publish=publish,
    )  # fmt: skip
    if sent.failed:
        msg = f"command {sent.id} not sent: {sent.failed}"
        raise Unavailable(msg, code="command_not_sent")
    return sent


@router.get("/devices/{device_id}/commands", response_model=list[Command], tags=["devices"])
async def device_commands(conn: Conn, user: Staff, device_id: DID) -> list[Command]:
    """The device's last 50 commands, newest first: when the broker took each, and the
    device's answer."""
    await _device_in_scope(conn, user, device_id)
    return await commands.history(conn=conn, device_id=device_id)


async def _device_in_scope(conn: Conn, user: Principal, device_id: str) -> None:
    """404 for a device that is not there or, for a district's operator, another
    district's resident's."""
    device = await service.get_device(conn=conn, device_id=device_id)
    if not user.districts:
        return
    resident = (
        await service.get_resident(conn=conn, resident_id=device.resident_id)
        if device.resident_id
        else None
    )
    if resident is None or resident.district not in user.districts:
        msg = f"unknown device {device_id!r}"
        raise UnknownDevice(msg)
