"""The operator API's part in sending help: the map of open incidents and service
points, and the points suggested for an incident (mounted with the incident routes)."""

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends

from access.guards import User
from alerts.api import AlertId, CallCentre, TimeZone
from alerts.response import map_view
from alerts.response.dispatching import Dispatcher
from alerts.response.suggestions import suggestions
from kernel.web import Conn, wired

router = APIRouter(prefix="/api/v1", tags=["incidents and alerts"])

# what anxin/app.py wires in
Routing = Annotated[Dispatcher, Depends(wired("dispatcher"))]


@router.get("/map")
async def get_map(conn: Conn, user: User, routing: Routing) -> dict[str, Any]:
    """What the map shows: the open incidents in the caller's scope where help goes
    (home, else the device's last fix) and the point asked or sent, and the service
    points (a service point user: its own) with what they hold now and can take."""
    return await map_view.read(conn=conn, user=user, dispatcher=routing)


@router.get("/alerts/{alert_id}/suggestions")
async def get_suggestions(
    conn: Conn, user: CallCentre, alert_id: AlertId, routing: Routing, time_zone: TimeZone
) -> dict[str, Any]:
    """The nearest service point that can help now (open, a free on-call person, the
    capability needed, under capacity, inside the circle), every nearer one with why
    it was skipped, and with none inside, the best option outside and, for a P1, a
    prompt to call 120."""
    return await suggestions(
        conn=conn,
        user=user,
        alert_id=alert_id,
        at=datetime.now(ZoneInfo(time_zone)).replace(tzinfo=None),
        policy=routing.policy,
    )
