"""Residents over the API: who they are, for operators and for their own caregivers."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from devices import service
from devices.accounts import Principal, Role
from devices.auth import User, role_in
from devices.errors import UnknownResident
from devices.models import Resident, ResidentIn
from kernel.errors import Invalid
from kernel.types import ResidentId
from kernel.web import Conn

router = APIRouter(prefix="/api/v1", tags=["residents"])

RID = Annotated[ResidentId, Path(description="the resident's id")]
Editor = Annotated[Principal, Depends(role_in(Role.ADMIN, Role.SUPERVISOR))]


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
async def put_resident(conn: Conn, user: Editor, resident_id: RID, body: ResidentIn) -> Resident:
    """Add or replace a resident (contacts too, when the body lists them)."""
    if body.id != resident_id:
        msg = f"the body's id {body.id!r} is not the path's {resident_id!r}"
        raise Invalid(msg)
    if user.districts and body.district not in user.districts:
        msg = f"district {body.district!r} is outside yours"
        raise Invalid(msg)
    async with conn.transaction():
        await service.add_residents(conn=conn, residents=[body])
    return await service.get_resident(conn=conn, resident_id=resident_id)


def _sees(user: Principal, resident: Resident) -> bool:
    if user.role is Role.CAREGIVER:
        return any(c.phone == user.phone for c in resident.contacts or [])
    if user.districts:
        return resident.district in user.districts
    return True
