"""Where to send help for an incident: its place (the resident's home, else the
device's last fix), what its alerts need, and the load each point already carries,
handed to dispatch to rank the points."""

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from alerts.errors import UnknownAlert
from alerts.queries import check_visible
from devices.accounts import Principal
from dispatch.suggest import DispatchPolicy, suggest
from kernel.errors import Conflict


class NoPlace(Conflict):
    """Nowhere to send help to: no home on record and no location from the device."""


async def suggestions(
    *,
    conn: AsyncConnection,
    user: Principal,
    alert_id: int,
    at: datetime,
    policy: DispatchPolicy,
) -> dict[str, Any]:
    await check_visible(conn=conn, user=user, alert_id=alert_id)
    cur = await conn.execute(
        """
        SELECT i.id, i.severity, i.resident_id, r.home_lat, r.home_lon,
               (SELECT array_agg(DISTINCT rule) FROM alerts WHERE incident_id = i.id),
               (SELECT ARRAY[lat, lon] FROM locations l WHERE l.device_id = i.device_id
                ORDER BY ts DESC LIMIT 1)
        FROM alerts a JOIN incidents i ON i.id = a.incident_id
        LEFT JOIN residents r ON r.id = i.resident_id
        WHERE a.id = %s
        """,
        (alert_id,),
    )
    row = await cur.fetchone()
    if row is None:
        msg = f"no alert {alert_id}"
        raise UnknownAlert(msg)
    incident_id, severity, resident_id, home_lat, home_lon, rules, fix = row
    if home_lat is not None:
        lat, lon, where = home_lat, home_lon, "home"
    elif fix is not None:
        (lat, lon), where = fix, "device_location"
    else:
        msg = "no home on record for the resident and no location from the device"
        raise NoPlace(msg)
    cur = await conn.execute(
        "SELECT service_point_id, count(*) FROM incidents WHERE service_point_id IS NOT NULL"
        " AND status IN ('dispatched', 'on_scene') GROUP BY 1"
    )
    load = {r[0]: int(r[1]) for r in await cur.fetchall()}
    found = await suggest(
        conn=conn, lat=lat, lon=lon, rules=rules or [], at=at, load=load, policy=policy,
        resident_id=resident_id,
    )  # fmt: skip
    # a P1 with nobody inside the circle: the operator should call 120 now
    found["call_120"] = severity == "P1" and found["best"] is None and bool(found["needs"])
    return {"incident_id": incident_id, "from": where, "lat": lat, "lon": lon, **found}
