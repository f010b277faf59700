"""Service points and their staff in the database (dispatch owns `service_points` and
`service_point_staff`)."""

from collections.abc import Sequence

from psycopg import AsyncConnection, errors

from dispatch.models import ServicePointIn, StaffIn
from kernel.errors import Invalid

_POINT_COLUMNS = (
    "name", "kind", "lat", "lon", "address", "district", "capabilities", "hours",
    "capacity", "accept_within_s",
)  # fmt: skip


async def add_service_points(
    *, conn: AsyncConnection, points: Sequence[ServicePointIn], replace: bool = True
) -> int:
    """Insert service points, or (`replace`) update those already there; returns how
    many were given."""
    columns = ", ".join(_POINT_COLUMNS)
    conflict = (
        "DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in _POINT_COLUMNS)
        if replace
        else "DO NOTHING"
    )
    async with conn.cursor() as cur:
        await cur.executemany(
            f"INSERT INTO service_points (id, {columns})"
            f" VALUES (%s{', %s' * len(_POINT_COLUMNS)}) ON CONFLICT (id) {conflict}",
            [
                (
                    p.id, p.name, str(p.kind), p.lat, p.lon, p.address, p.district,
                    [str(c) for c in p.capabilities],
                    p.hours.model_dump_json() if p.hours else None,
                    p.capacity, p.accept_within_s,
                )
                for p in points
            ],
        )  # fmt: skip
    return len(points)


async def add_staff(*, conn: AsyncConnection, staff: Sequence[StaffIn]) -> int:
    """Insert or update on-call staff; an unknown point refuses the whole batch."""
    try:
        async with conn.transaction(), conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO service_point_staff"
                " (id, point_id, name, phone, channels, shifts, on_call)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                " point_id = EXCLUDED.point_id, name = EXCLUDED.name, phone = EXCLUDED.phone,"
                " channels = EXCLUDED.channels, shifts = EXCLUDED.shifts,"
                " on_call = EXCLUDED.on_call",
                [
                    (
                        s.id, s.point_id, s.name, s.phone, [str(c) for c in s.channels],
                        s.shifts.model_dump_json(), s.on_call,
                    )
                    for s in staff
                ],
            )  # fmt: skip
    except errors.ForeignKeyViolation as exc:
        msg = "a staff row names a service point that does not exist"
        raise Invalid(msg) from exc
    return len(staff)


async def known_points(*, conn: AsyncConnection) -> set[str]:
    cur = await conn.execute("SELECT id FROM service_points")
    return {r[0] for r in await cur.fetchall()}


async def point_names(*, conn: AsyncConnection) -> dict[str, str]:
    cur = await conn.execute("SELECT id, name FROM service_points")
    return {r[0]: r[1] for r in await cur.fetchall()}
