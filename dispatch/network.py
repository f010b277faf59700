"""The service network as it stands at one moment, read from the database: which
points are open, who is on shift, what each already has on its hands."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from psycopg import AsyncConnection

from dispatch.models import Capability, WeekHours
from dispatch.routing import Network, mask

ALWAYS = mask([Capability.ALWAYS_OPEN])


@dataclass(frozen=True)
class Directory:
    """The points and their on-call staff as read, for the network at any moment."""

    ids: list[str]
    lat: list[float]
    lon: list[float]
    caps: list[int]
    capacity: list[int]
    hours: list[WeekHours | None]
    shifts: list[tuple[str, WeekHours]]  # (point id, shifts) per on-call person

    def at(self, at: datetime, load: Mapping[str, int] | None = None) -> Network:
        """`at` in the service's local time (opening hours and shifts are local);
        `load`: per point, the incidents it holds (alerts knows them)."""
        on_shift: dict[str, int] = {}
        for point_id, shifts in self.shifts:
            if shifts.open_at(at):
                on_shift[point_id] = on_shift.get(point_id, 0) + 1
        caps = np.array(self.caps, np.int64)
        opened = [h.open_at(at) if h is not None else False for h in self.hours]
        load = load or {}
        return Network(
            ids=self.ids,
            lat=np.array(self.lat, np.float64),
            lon=np.array(self.lon, np.float64),
            caps=caps,
            capacity=np.array(self.capacity, np.int64),
            load=np.array([load.get(p, 0) for p in self.ids], np.int64),
            open_now=np.array(opened, bool) | ((caps & ALWAYS) != 0),
            staff_on_shift=np.array([on_shift.get(p, 0) for p in self.ids], np.int64),
        )


async def read_directory(*, conn: AsyncConnection) -> Directory:
    cur = await conn.execute(
        "SELECT id, lat, lon, capabilities, hours, capacity FROM service_points ORDER BY id"
    )
    points = await cur.fetchall()
    cur = await conn.execute("SELECT point_id, shifts FROM service_point_staff WHERE on_call")
    staff = await cur.fetchall()
    return Directory(
        ids=[r[0] for r in points],
        lat=[r[1] for r in points],
        lon=[r[2] for r in points],
        caps=[mask(_known(r[3])) for r in points],
        capacity=[r[5] for r in points],
        hours=[WeekHours.model_validate(r[4]) if r[4] is not None else None for r in points],
        shifts=[(p, WeekHours.model_validate(s)) for p, s in staff],
    )


async def network_at(
    *, conn: AsyncConnection, at: datetime, load: Mapping[str, int] | None = None
) -> Network:
    return (await read_directory(conn=conn)).at(at, load)


def _known(capabilities: list[str]) -> list[Capability]:
    """A capability an earlier version stored and this one does not know is ignored."""
    return [Capability(c) for c in capabilities if c in Capability._value2member_map_]
