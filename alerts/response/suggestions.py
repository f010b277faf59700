"""Where to send help for an incident: its place (the resident's home, else the
device's last fix), what its alerts need, and the load each point already carries,
handed to dispatch to rank the points."""

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from access.accounts import Principal
from alerts.errors import UnknownAlert
from alerts.queries import check_visible
from alerts.response.dispatching import loads, places
from dispatch import offers
from dispatch.choosing import DispatchPolicy, suggest
from kernel.errors import Conflict


class NoPlace(Conflict):
    """Nowhere to send help to: no home on record and no location from the device."""

    code = "no_place"
    zh_default = "没有登记住址，设备也未报告位置，无法推荐服务点"


async def suggestions(
    *,
    conn: AsyncConnection,
    user: Principal,
    alert_id: int,
    at: datetime,
    policy: DispatchPolicy,
) -> dict[str, Any]:
    await check_visible(conn=conn, user=user, alert_id=alert_id)
    cur = await conn.execute("SELECT incident_id FROM alerts WHERE id = %s", (alert_id,))
    row = await cur.fetchone()
    if row is None:
        msg = f"no alert {alert_id}"
        raise UnknownAlert(msg)
    (place,) = await places(conn=conn, incident_ids=[row[0]])
    if place.lat is None or place.lon is None:
        msg = "no home on record for the resident and no location from the device"
        raise NoPlace(msg)
    refused = await offers.refused(conn=conn, incident_ids=[place.incident_id])
    found = await suggest(
        conn=conn, lat=place.lat, lon=place.lon, rules=place.rules, at=at,
        load=await loads(conn=conn, leaving_out=[place.incident_id]), policy=policy,
        resident_id=place.resident_id, refused=refused[place.incident_id],
    )  # fmt: skip
    # a P1 with nobody inside the circle: the operator should call 120 now
    found["call_120"] = place.severity == "P1" and found["best"] is None and bool(found["needs"])
    return {
        "incident_id": place.incident_id, "from": place.source, "lat": place.lat,
        "lon": place.lon, **found,
    }  # fmt: skip
