"""The operator API for incidents and alerts: thin routes over alerts.queries and
alerts.lifecycle."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Header, Path, Query
from pydantic import BaseModel, BeforeValidator, Field, Strict
from sse_starlette import EventSourceResponse, ServerSentEvent

from access.accounts import Principal, Role
from access.guards import StreamingUser, User, role_in
from alerts import lifecycle, queries, reports
from alerts.lifecycle import MAX_NOTE_CHARS, Action, Sending
from alerts.models import AlertStatus, Resolution, Severity
from alerts.reasons import Lang, explain, pick_language
from alerts.stream import StreamHub, as_json
from kernel.errors import Forbidden, Invalid
from kernel.types import MAX_ID, Moment, RequestBody, ResidentId, number_only
from kernel.web import Conn, wired

router = APIRouter(prefix="/api/v1", tags=["incidents and alerts"])

# what anxin/app.py wires in
# the sending of help (alerts.response.dispatching.Dispatcher), which acts pass on
Routing = Annotated[Sending, Depends(wired("dispatcher"))]
TimeZone = Annotated[str, Depends(wired("time_zone"))]
Hub = Annotated[StreamHub, Depends(wired("stream"))]

AlertId = Annotated[int, Path(ge=1, le=MAX_ID, description="an alert's id")]
IncidentId = Annotated[int, Path(ge=1, le=MAX_ID, description="an incident's id")]
# the bounds before the validator: after it, pydantic leaves them out of the schema
AlertIdValue = Annotated[int, Field(ge=1, le=MAX_ID), Strict(False), BeforeValidator(number_only)]


Note = Annotated[str, Field(max_length=MAX_NOTE_CHARS)]
NeededNote = Annotated[str, Field(min_length=1, max_length=MAX_NOTE_CHARS)]


class NoteAside(RequestBody):
    """ack, accept, decline, arrive, cancel: a note on the timeline, if any."""

    note: Note | None = None


class AssignBody(RequestBody):
    # the point sent; none: the nearest eligible one
    service_point_id: ResidentId | None = None
    note: Note | None = None


class NoteBody(RequestBody):
    note: NeededNote


class ResolveBody(RequestBody):
    outcome: Annotated[Resolution, Strict(False)]
    note: NeededNote


class ChangeOut(BaseModel):
    alert_id: int
    incident_id: int
    from_status: AlertStatus
    to_status: AlertStatus
    event_id: int


class PageOut(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None


# the call centre's people: they read the whole queue of their districts and send help
CallCentre = Annotated[Principal, Depends(role_in(Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN))]

# who may do what; everyone may read (within their scope) and add notes
_MAY: dict[Action, tuple[Role, ...]] = {
    Action.ACK: (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN),
    Action.ASSIGN: (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN),
    # the asked point answers; an operator may answer for it after phoning it
    Action.ACCEPT: (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.SERVICE_POINT),
    Action.DECLINE: (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.SERVICE_POINT),
    Action.CANCEL: (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN),
    Action.ARRIVE: (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.SERVICE_POINT),
    Action.RESOLVE: (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.SERVICE_POINT),
    Action.NOTE: tuple(Role),
}


def _filters(
    status: Annotated[list[AlertStatus] | None, Query(description="default: not closed")] = None,
    priority: Annotated[list[Severity] | None, Query()] = None,
    district: Annotated[str | None, Query(max_length=100)] = None,
    service_point: Annotated[ResidentId | None, Query()] = None,
    opened_from: Annotated[Moment | None, Query(alias="from")] = None,
    opened_to: Annotated[Moment | None, Query(alias="to")] = None,
) -> queries.Filters:
    return queries.Filters(status, priority, district, service_point, opened_from, opened_to)


Filters = Annotated[queries.Filters, Depends(_filters)]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[
    str | None, Query(pattern=queries.CURSOR_PATTERN, description="next_cursor of the page before")
]


def _language(
    user: User,
    accept_language: Annotated[str | None, Header(max_length=200)] = None,
) -> Lang:
    """Reasons in `Accept-Language` (zh-CN or en) if it names one, else the user's."""
    return pick_language(accept_language, user.language)


Language = Annotated[Lang, Depends(_language)]


@router.get("/incidents", response_model=PageOut)
async def list_incidents(
    conn: Conn,
    user: User,
    lang: Language,
    filters: Filters,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> queries.Page:
    """The queue: one row per incident, most urgent first, then oldest. Each alert's
    `reason_text` is in the caller's language (Simplified Chinese by default)."""
    page = await queries.list_incidents(
        conn=conn, user=user, filters=filters, limit=limit, cursor=cursor
    )
    queries.explain_all(page.items, lang)
    return page


@router.get("/incidents/{incident_id}")
async def get_incident(
    conn: Conn, user: User, lang: Language, incident_id: IncidentId
) -> dict[str, Any]:
    """One incident as the queue lists it (the dashboard reads a new one this way)."""
    row = await queries.get_incident(conn=conn, user=user, incident_id=incident_id)
    queries.explain_all([row], lang)
    return row


@router.get("/alerts", response_model=PageOut)
async def list_alerts(
    conn: Conn,
    user: User,
    lang: Language,
    filters: Filters,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> queries.Page:
    page = await queries.list_alerts(
        conn=conn, user=user, filters=filters, limit=limit, cursor=cursor
    )
    queries.explain_all(page.items, lang)
    return page


@router.get("/alerts/{alert_id}")
async def get_alert(conn: Conn, user: User, lang: Language, alert_id: AlertId) -> dict[str, Any]:
    """The alert with its incident (and the actions legal on it now), timeline,
    resident, device and last 24 h of vitals; `reason_text` in the caller's language."""
    alert = await queries.get_alert(conn=conn, user=user, alert_id=alert_id)
    queries.explain_all([alert], lang)
    incident = alert["incident"]
    incident["actions"] = lifecycle.legal_actions(AlertStatus(incident["status"]))
    return alert


async def _act(
    routing: Sending,
    conn: Conn,
    user: Principal,
    alert_id: int,
    action: Action,
    body: NoteAside | AssignBody | NoteBody | ResolveBody | None,
) -> ChangeOut:
    """An action not legal from the incident's status is a 409 listing the legal ones."""
    _may(user, action)
    await queries.check_visible(conn=conn, user=user, alert_id=alert_id)
    given = body.model_dump(exclude_none=True) if body is not None else {}
    change = await lifecycle.act(
        conn=conn,
        alert_id=alert_id,
        request=lifecycle.Request(action=action, actor=user.name, **given),
        dispatcher=routing,
    )
    return ChangeOut(
        alert_id=alert_id,
        incident_id=change.incident_id,
        from_status=change.from_status,
        to_status=change.to_status,
        event_id=change.audit_id,
    )


# One route per action, each with the body it takes: the OpenAPI document can then say
# what each needs (a note to note, an outcome and a note to resolve), and a method an
# alert's other paths take (POST .../suggestions) is a 405, not an unknown action.
@router.post("/alerts/{alert_id}/ack", response_model=ChangeOut)
async def ack(
    routing: Routing, conn: Conn, user: User, alert_id: AlertId, body: NoteAside | None = None
) -> ChangeOut:
    """The operator has the incident: the clock of the first answer stops."""
    return await _act(routing, conn, user, alert_id, Action.ACK, body)


@router.post("/alerts/{alert_id}/assign", response_model=ChangeOut)
async def assign(
    routing: Routing, conn: Conn, user: User, alert_id: AlertId, body: AssignBody | None = None
) -> ChangeOut:
    """Ask a service point to go: `service_point_id`, else the nearest eligible one."""
    return await _act(routing, conn, user, alert_id, Action.ASSIGN, body)


@router.post("/alerts/{alert_id}/accept", response_model=ChangeOut)
async def accept(
    routing: Routing, conn: Conn, user: User, alert_id: AlertId, body: NoteAside | None = None
) -> ChangeOut:
    """The asked point goes (its own answer, or an operator's after phoning it)."""
    return await _act(routing, conn, user, alert_id, Action.ACCEPT, body)


@router.post("/alerts/{alert_id}/decline", response_model=ChangeOut)
async def decline(
    routing: Routing, conn: Conn, user: User, alert_id: AlertId, body: NoteAside | None = None
) -> ChangeOut:
    """The asked point cannot go: the next eligible one is asked."""
    return await _act(routing, conn, user, alert_id, Action.DECLINE, body)


@router.post("/alerts/{alert_id}/arrive", response_model=ChangeOut)
async def arrive(
    routing: Routing, conn: Conn, user: User, alert_id: AlertId, body: NoteAside | None = None
) -> ChangeOut:
    """Someone is with the resident."""
    return await _act(routing, conn, user, alert_id, Action.ARRIVE, body)


@router.post("/alerts/{alert_id}/resolve", response_model=ChangeOut)
async def resolve(
    routing: Routing, conn: Conn, user: User, alert_id: AlertId, body: ResolveBody
) -> ChangeOut:
    """Close the incident: how it ended and what was done."""
    return await _act(routing, conn, user, alert_id, Action.RESOLVE, body)


@router.post("/alerts/{alert_id}/cancel", response_model=ChangeOut)
async def cancel(
    routing: Routing, conn: Conn, user: User, alert_id: AlertId, body: NoteAside | None = None
) -> ChangeOut:
    """Stop the response (the resident called back, a duplicate)."""
    return await _act(routing, conn, user, alert_id, Action.CANCEL, body)


@router.post("/alerts/{alert_id}/note", response_model=ChangeOut)
async def note(
    routing: Routing, conn: Conn, user: User, alert_id: AlertId, body: NoteBody
) -> ChangeOut:
    """A line on the incident's timeline; the status stays."""
    return await _act(routing, conn, user, alert_id, Action.NOTE, body)


class DispatchBody(RequestBody):
    alert_ids: list[AlertIdValue] = Field(min_length=1, max_length=500)


@router.post("/dispatch", response_model=list[ChangeOut])
async def dispatch_many(
    routing: Routing, conn: Conn, user: CallCentre, body: DispatchBody
) -> list[ChangeOut]:
    """Assign many acknowledged incidents at once (a heatwave, a power cut): they are
    routed jointly, for the least total travel time within the points' capacities.
    All or none: one not legal to assign is a 409 and nothing changes."""
    for alert_id in body.alert_ids:
        await queries.check_visible(conn=conn, user=user, alert_id=alert_id)
    changes = await lifecycle.assign_all(
        conn=conn,
        alert_ids=body.alert_ids,
        actor=user.name,
        dispatcher=routing,
    )
    return [
        ChangeOut(
            alert_id=c.alert_id,
            incident_id=c.incident_id,
            from_status=c.from_status,
            to_status=c.to_status,
            event_id=c.audit_id,
        )
        for c in changes
    ]


@router.get("/stream", response_class=EventSourceResponse)
async def stream(
    hub: Hub,
    user: StreamingUser,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0)] = None,
    accept_language: Annotated[str | None, Header(max_length=200)] = None,
) -> EventSourceResponse:
    """Server-sent events: `change`, one per change to an incident in the caller's
    scope (`id` is its audit id; `data` the change and the incident's state), after a
    `ready` once subscribed. Reconnect with `Last-Event-ID` to miss nothing."""
    lang = pick_language(accept_language, user.language)

    async def changes() -> AsyncIterator[ServerSentEvent]:
        async for row in hub.events(user=user, last_event_id=last_event_id):
            if "ready" in row:
                # its id is the position reached: a client that has seen no change yet
                # still resumes from here, missing nothing committed while it was away
                yield ServerSentEvent(
                    data=as_json({"last_event_id": row["ready"]}),
                    id=str(row["ready"]),
                    event="ready",
                )
            else:
                row = dict(row)  # the hub hands the same row to every client
                explain(row, lang)
                yield ServerSentEvent(data=as_json(row), id=str(row["id"]), event="change")

    return EventSourceResponse(changes(), ping=15)


# the zones this server knows, so the document can list them
_ZONES = sorted(available_timezones())


@router.get("/reports/sla")
async def sla_report(
    conn: Conn,
    user: CallCentre,
    time_zone: TimeZone,
    start: Annotated[
        Moment | None, Query(alias="from", description="before `to`; default: 7 days ago")
    ] = None,
    end: Annotated[Moment | None, Query(alias="to", description="default: now")] = None,
    tz: Annotated[
        str | None,
        Query(
            description="days in this zone (IANA name); default the service's",
            json_schema_extra={"enum": _ZONES},
        ),
    ] = None,
) -> dict[str, Any]:
    """Per priority and day: share acknowledged within 60 s; median and p95 seconds to
    acknowledge, dispatch and close; false alarms per rule."""
    # an empty tz is a zone named "", not the default: only its absence is
    zone = time_zone if tz is None else tz
    if tz is not None and tz not in _ZONES:
        msg = f"tz: unknown time zone {zone!r} (e.g. Asia/Shanghai)"
        raise Invalid(msg, zh=f"未知时区 {zone!r}（例如 Asia/Shanghai）")
    end = end or datetime.now(UTC)
    start = start or end - timedelta(days=7)
    if start.tzinfo is None or end.tzinfo is None:
        msg = "from and to need a time zone offset, e.g. 2026-11-23T00:00:00+08:00"
        raise Invalid(msg)
    if start >= end:
        msg = "from must be before to"
        raise Invalid(msg)
    return await reports.sla(conn=conn, user=user, start=start, end=end, tz=zone)


def _may(user: Principal, action: Action) -> None:
    if user.role not in _MAY[action]:
        msg = f"role {user.role} may not {action}"
        raise Forbidden(msg)
