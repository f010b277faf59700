"""The service network as it stands at one moment, read from the database: which
points are open, who is on shift, what each already has on its hands."""

from collections.abc import Mapping
from datetime import datetime

import numpy as np
from psycopg import AsyncConnection

from dispatch.models import Capability, WeekHours
from dispatch.routing import Network, mask

ALWAYS = mask([Capability.ALWAYS_OPEN])


async def network_at(
    *, conn: AsyncConnection, at: datetime, load: Mapping[str, int] | None = None
) -> Network:
    """`at` in the service's local time (opening hours and shifts are local). `load`:
    per point, the incidents it has on the way or on scene (alerts knows them)."""
    cur = await conn.execute(
        "SELECT id, lat, lon, capabilities, hours, capacity FROM service_points ORDER BY id"
    )
    points = await cur.fetchall()
    cur = await conn.execute("SELECT point_id, shifts FROM service_point_staff WHERE on_call")
    on_shift: dict[str, int] = {}
    for point_id, shifts in await cur.fetchall():
        if WeekHours.model_validate(shifts).open_at(at):
            on_shift[point_id] = on_shift.get(point_id, 0) + 1
    caps = np.array([mask(_known(row[3])) for row in points], np.int64)
    opened = [
        WeekHours.model_validate(row[4]).open_at(at) if row[4] is not None else False
        for row in points
    ]
    load = load or {}
    return Network(
        ids=[row[0] for row in points],
        lat=np.array([row[1] for row in points], np.float64),
        lon=np.array([row[2] for row in points], np.float64),
        caps=caps,
        capacity=np.array([row[5] for row in points], np.int64),
        load=np.array([load.get(row[0], 0) for row in points], np.int64),
        open_now=np.array(opened, bool) | ((caps & ALWAYS) != 0),
        staff_on_shift=np.array([on_shift.get(row[0], 0) for row in points], np.int64),
    )


def _known(capabilities: list[str]) -> list[Capability]:
    """A capability an earlier version stored and this one does not know is ignored."""
    return [Capability(c) for c in capabilities if c in Capability._value2member_map_]
