"""What the operators' map shows: open incidents where help goes, the point each was
asked of or sent to, and the service points with what they hold and can take now."""

from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from access.accounts import Principal, Role
from alerts.queries import ACTIVE, visible
from alerts.response.dispatching import Dispatcher, loads, places
from dispatch.network import network_at
from dispatch.service import point_names


async def read(*, conn: AsyncConnection, user: Principal, dispatcher: Dispatcher) -> dict[str, Any]:
    params: dict[str, Any] = {"active": ACTIVE}
    query = sql.SQL(
        "SELECT i.id, i.severity, i.status, i.service_point_id, r.name AS resident_name,"
        " (SELECT min(a.id) FROM alerts a WHERE a.incident_id = i.id) AS alert_id"
        " FROM incidents i LEFT JOIN resident_directory r ON r.id = i.resident_id"
        " WHERE i.status = ANY(%(active)s) AND {visible} ORDER BY i.severity, i.opened_at"
    ).format(visible=visible(user, params))
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        incidents = await cur.fetchall()
    where = {
        p.incident_id: p for p in await places(conn=conn, incident_ids=[i["id"] for i in incidents])
    }
    for incident in incidents:
        place = where.get(incident["id"])
        incident["lat"] = place.lat if place else None
        incident["lon"] = place.lon if place else None
    network = await network_at(conn=conn, at=dispatcher.local_now(), load=await loads(conn=conn))
    names = await point_names(conn=conn)
    points = [
        {
            "id": point_id,
            "name": names.get(point_id, point_id),
            "lat": float(network.lat[k]),
            "lon": float(network.lon[k]),
            "load": int(network.load[k]),
            "capacity": int(network.capacity[k]),
            "open_now": bool(network.open_now[k]),
            "staff_on_shift": int(network.staff_on_shift[k]),
        }
        for k, point_id in enumerate(network.ids)
        if user.role is not Role.SERVICE_POINT or point_id == user.service_point_id
    ]
    return {"incidents": incidents, "points": points}
