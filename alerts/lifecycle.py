"""What an operator (or a responder) does to an incident, and what each action may
follow: open → acknowledged → dispatched → on_scene → resolved, or cancelled.

Nothing is resolved before someone acknowledged it; an acknowledged incident may be
resolved without dispatch (a false alarm sorted out on the phone). Escalation is a
level on the incident, not a status (alerts.escalation). Every action writes its
audit row in the same transaction as the change.
"""

from dataclasses import dataclass
from enum import StrEnum

from psycopg import AsyncConnection, errors

from alerts import audit, metrics
from alerts.errors import BadAction, IllegalTransition, UnknownAlert
from alerts.models import AlertStatus, Resolution

MAX_NOTE_CHARS = 4000


class Action(StrEnum):
    ACK = "ack"
    ASSIGN = "assign"
    ARRIVE = "arrive"
    RESOLVE = "resolve"
    CANCEL = "cancel"
    NOTE = "note"


S = AlertStatus
_ACTIVE = (S.OPEN, S.ACKNOWLEDGED, S.DISPATCHED, S.ON_SCENE)
TRANSITIONS: dict[Action, dict[AlertStatus, AlertStatus]] = {
    Action.ACK: {S.OPEN: S.ACKNOWLEDGED},
    # a second assign moves the incident to another point
    Action.ASSIGN: {S.ACKNOWLEDGED: S.DISPATCHED, S.DISPATCHED: S.DISPATCHED},
    Action.ARRIVE: {S.DISPATCHED: S.ON_SCENE},
    Action.RESOLVE: {S.ACKNOWLEDGED: S.RESOLVED, S.DISPATCHED: S.RESOLVED, S.ON_SCENE: S.RESOLVED},
    Action.CANCEL: {s: S.CANCELLED for s in _ACTIVE},
    # a note changes nothing and is welcome at any time, after closing too
    Action.NOTE: {s: s for s in AlertStatus},
}


def legal_actions(status: AlertStatus) -> list[str]:
    return [str(action) for action, moves in TRANSITIONS.items() if status in moves]


@dataclass(frozen=True)
class Request:
    """One action on the incident an alert belongs to."""

    action: Action
    actor: str
    note: str | None = None
    outcome: Resolution | None = None
    service_point_id: str | None = None

    def __post_init__(self) -> None:
        if self.note is not None and len(self.note) > MAX_NOTE_CHARS:
            msg = f"note is {len(self.note)} characters; at most {MAX_NOTE_CHARS}"
            raise BadAction(msg)
        if self.action is Action.RESOLVE and (self.outcome is None or not self.note):
            msg = "resolve needs an outcome code and a note"
            raise BadAction(msg)
        if self.action is Action.NOTE and not self.note:
            msg = "note needs a non-empty note"
            raise BadAction(msg)
        if self.action is Action.ASSIGN and not self.service_point_id:
            msg = "assign needs a service_point_id"
            raise BadAction(msg)


@dataclass(frozen=True)
class Change:
    incident_id: int
    from_status: AlertStatus
    to_status: AlertStatus
    audit_id: int


async def act(*, conn: AsyncConnection, alert_id: int, request: Request) -> Change:
    """Apply an action to the incident of `alert_id`, in one transaction with its
    audit row; IllegalTransition (409) names the actions legal from here."""
    async with conn.transaction():
        await audit.lock_alerts(conn)
        cur = await conn.execute(
            "SELECT i.id, i.status, i.severity, extract(epoch FROM now() - i.opened_at)"
            " FROM alerts a JOIN incidents i ON i.id = a.incident_id"
            " WHERE a.id = %s FOR UPDATE OF i",
            (alert_id,),
        )
        row = await cur.fetchone()
        if row is None:
            msg = f"no alert {alert_id}"
            raise UnknownAlert(msg)
        incident_id, status = int(row[0]), AlertStatus(row[1])
        to_status = TRANSITIONS[request.action].get(status)
        if to_status is None:
            legal = legal_actions(status)
            msg = (
                f"cannot {request.action} an incident that is {status};"
                f" legal from {status}: {', '.join(legal)}"
            )
            raise IllegalTransition(msg, status=str(status), legal=legal)
        if request.action is not Action.NOTE:
            await _move(conn, incident_id, to_status, request)
        audit_id = await audit.record(
            conn,
            incident_id=incident_id,
            alert_id=alert_id,
            actor=request.actor,
            action=str(request.action),
            from_status=str(status),
            to_status=str(to_status),
            note=request.note,
            data=_action_data(request),
        )
    if request.action is Action.ACK:
        metrics.TIME_TO_ACK.labels(row[2]).observe(float(row[3]))
    return Change(incident_id, status, to_status, audit_id)


_STAMP = {
    S.ACKNOWLEDGED: "acknowledged_at",
    S.DISPATCHED: "dispatched_at",
    S.ON_SCENE: "on_scene_at",
    S.RESOLVED: "closed_at",
    S.CANCELLED: "closed_at",
}


async def _move(
    conn: AsyncConnection, incident_id: int, to_status: AlertStatus, request: Request
) -> None:
    stamp = _STAMP[to_status]  # a fixed column name from the table above
    try:
        await conn.execute(
            f"""
            UPDATE incidents SET status = %(status)s, {stamp} = coalesce({stamp}, now()),
                escalate_at = NULL,
                outcome = coalesce(%(outcome)s, outcome),
                service_point_id = coalesce(%(point)s, service_point_id)
            WHERE id = %(id)s
            """,
            {
                "status": str(to_status),
                "outcome": str(request.outcome) if request.outcome else None,
                "point": request.service_point_id,
                "id": incident_id,
            },
        )
    except errors.ForeignKeyViolation as exc:
        msg = f"unknown service point {request.service_point_id!r}"
        raise BadAction(msg) from exc
    await conn.execute(
        "UPDATE alerts SET status = %s WHERE incident_id = %s", (str(to_status), incident_id)
    )


def _action_data(request: Request) -> dict[str, object] | None:
    data: dict[str, object] = {}
    if request.outcome:
        data["outcome"] = str(request.outcome)
    if request.service_point_id:
        data["service_point_id"] = request.service_point_id
    return data or None
