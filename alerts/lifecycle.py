"""What an operator (or a responder) does to an incident, and what each action may
follow: open → acknowledged → dispatched → on_scene → resolved, or cancelled.

Nothing is resolved before someone acknowledged it; an acknowledged incident may be
resolved without dispatch (a false alarm sorted out on the phone). `assign` asks a
point (the operator's choice, else the nearest eligible one) and the incident is
`dispatched` once the point accepts; a decline asks the next (alerts.response.dispatching).
Escalation is a level on the incident, not a status (alerts.escalation). Every
action writes its audit row in the same transaction as the change.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from psycopg import AsyncConnection

from alerts import audit, metrics, notices
from alerts.errors import BadAction, IllegalTransition, UnknownAlert
from alerts.models import AlertStatus, Resolution
from dispatch import offers
from dispatch.offers import Answer

MAX_NOTE_CHARS = 4000


class Action(StrEnum):
    ACK = "ack"
    ASSIGN = "assign"
    ACCEPT = "accept"
    DECLINE = "decline"
    ARRIVE = "arrive"
    RESOLVE = "resolve"
    CANCEL = "cancel"
    NOTE = "note"


S = AlertStatus
_ACTIVE = (S.OPEN, S.ACKNOWLEDGED, S.DISPATCHED, S.ON_SCENE)
TRANSITIONS: dict[Action, dict[AlertStatus, AlertStatus]] = {
    Action.ACK: {S.OPEN: S.ACKNOWLEDGED},
    # asks a point; a second assign sends the incident to another one
    Action.ASSIGN: {S.ACKNOWLEDGED: S.ACKNOWLEDGED, S.DISPATCHED: S.ACKNOWLEDGED},
    # the asked point's answer (or the operator's, having phoned it)
    Action.ACCEPT: {S.ACKNOWLEDGED: S.DISPATCHED},
    Action.DECLINE: {S.ACKNOWLEDGED: S.ACKNOWLEDGED},
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
            raise BadAction(msg, zh=f"备注有 {len(self.note)} 个字，最多 {MAX_NOTE_CHARS} 个")
        if self.action is Action.RESOLVE and (self.outcome is None or not self.note):
            msg = "resolve needs an outcome code and a note"
            raise BadAction(msg, zh="结案需要选择结果并填写处理情况")
        if self.outcome is not None and self.action is not Action.RESOLVE:
            # only a resolution has an outcome (the table's CHECK says so too)
            msg = f"an outcome is given only to resolve, not to {self.action}"
            raise BadAction(msg, zh="只有结案时才填写结果")
        if self.action is Action.NOTE and not self.note:
            msg = "note needs a non-empty note"
            raise BadAction(msg, zh="备注不能为空")


@dataclass(frozen=True)
class Change:
    alert_id: int
    incident_id: int
    from_status: AlertStatus
    to_status: AlertStatus
    audit_id: int


class Sending(Protocol):
    """How an assign or a decline sends help on: alerts.response.dispatching.Dispatcher,
    handed in by whoever acts (the API, the CLI, an answer from a phone)."""

    async def route(
        self, *, conn: AsyncConnection, incident_ids: Sequence[int], actor: str
    ) -> Sequence[object]: ...

    async def offer_point(
        self, *, conn: AsyncConnection, incident_id: int, point_id: str, actor: str
    ) -> object: ...


_ANSWERS = {Action.ACCEPT: Answer.ACCEPTED, Action.DECLINE: Answer.DECLINED}


async def act(
    *,
    conn: AsyncConnection,
    alert_id: int,
    request: Request,
    dispatcher: Sending,
) -> Change:
    """Apply an action to the incident of `alert_id`, in one transaction with its
    audit row; IllegalTransition (409) names the actions legal from here."""
    async with conn.transaction():
        await audit.lock_alerts(conn=conn)
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
        change = await _apply(conn, alert_id, int(row[0]), AlertStatus(row[1]), request)
        if request.action is Action.ASSIGN and request.service_point_id:
            await dispatcher.offer_point(
                conn=conn, incident_id=change.incident_id, point_id=request.service_point_id,
                actor=request.actor,
            )  # fmt: skip
        elif request.action in (Action.ASSIGN, Action.DECLINE):
            await dispatcher.route(
                conn=conn, incident_ids=[change.incident_id], actor=request.actor
            )
        elif request.action is Action.RESOLVE and request.outcome is not None:
            await notices.family_resolved(
                conn=conn, incident_id=change.incident_id, outcome=str(request.outcome)
            )
    if request.action is Action.ACK:
        metrics.TIME_TO_ACK.labels(row[2]).observe(float(row[3]))
    return change


async def assign_all(
    *,
    conn: AsyncConnection,
    alert_ids: Sequence[int],
    actor: str,
    dispatcher: Sending,
) -> list[Change]:
    """Assign many incidents at once (a surge: a heatwave, a power cut), so that they
    are routed jointly, least total travel within the points' capacities, instead of
    the first taking the points the later ones needed. All or none."""
    request = Request(action=Action.ASSIGN, actor=actor)
    async with conn.transaction():
        await audit.lock_alerts(conn=conn)
        cur = await conn.execute(
            "SELECT a.id, i.id, i.status FROM alerts a JOIN incidents i ON i.id = a.incident_id"
            " WHERE a.id = ANY(%s) ORDER BY i.id, a.id FOR UPDATE OF i",
            (list(alert_ids),),
        )
        rows = await cur.fetchall()
        missing = set(alert_ids) - {r[0] for r in rows}
        if missing:
            msg = f"no alert {', '.join(map(str, sorted(missing)))}"
            raise UnknownAlert(msg)
        first: dict[int, tuple[int, str]] = {}  # per incident, its first alert named
        for alert_id, incident_id, status in rows:
            first.setdefault(incident_id, (alert_id, status))
        changes = [
            await _apply(conn, alert_id, incident_id, AlertStatus(status), request)
            for incident_id, (alert_id, status) in first.items()
        ]
        await dispatcher.route(
            conn=conn, incident_ids=[c.incident_id for c in changes], actor=actor
        )
    return changes


async def _apply(
    conn: AsyncConnection,
    alert_id: int,
    incident_id: int,
    status: AlertStatus,
    request: Request,
) -> Change:
    """The action's change and its audit row, or IllegalTransition."""
    to_status = TRANSITIONS[request.action].get(status)
    if to_status is None:
        legal = legal_actions(status)
        msg = (
            f"cannot {request.action} an incident that is {status};"
            f" legal from {status}: {', '.join(legal)}"
        )
        raise IllegalTransition(msg, status=str(status), legal=legal, action=str(request.action))
    asked = await _settle_offer(conn, incident_id, status, request)
    if request.action is not Action.NOTE:
        await _move(conn, incident_id, to_status, request)
    audit_id = await audit.record(
        conn=conn,
        incident_id=incident_id,
        alert_id=alert_id,
        actor=request.actor,
        action=str(request.action),
        from_status=str(status),
        to_status=str(to_status),
        note=request.note,
        data=_action_data(request, asked),
    )
    return Change(alert_id, incident_id, status, to_status, audit_id)


_STAMP = {
    S.ACKNOWLEDGED: "acknowledged_at",
    S.DISPATCHED: "dispatched_at",
    S.ON_SCENE: "on_scene_at",
    S.RESOLVED: "closed_at",
    S.CANCELLED: "closed_at",
}


async def _settle_offer(
    conn: AsyncConnection, incident_id: int, status: AlertStatus, request: Request
) -> str | None:
    """What the action does to the point's offer; returns the point it concerned."""
    if request.action in _ANSWERS:
        offer = await offers.waiting(conn=conn, incident_id=incident_id)
        if offer is None:
            legal = [a for a in legal_actions(status) if a not in _ANSWERS]
            msg = (
                f"cannot {request.action}: no service point has been asked to take this"
                f" incident; legal now: {', '.join(legal)}"
            )
            raise IllegalTransition(
                msg, status=str(status), legal=legal, action=str(request.action)
            )
        await offers.answer(
            conn=conn, offer_id=offer.id, answer=_ANSWERS[request.action], by=request.actor
        )
        if request.action is Action.DECLINE:
            await _release_point(conn, incident_id)
        return offer.point_id
    if request.action in (Action.ASSIGN, Action.RESOLVE, Action.CANCEL):
        withdrawn = await offers.withdraw(conn=conn, incident_id=incident_id, by=request.actor)
        if request.action is Action.ASSIGN:
            await _release_point(conn, incident_id)
        return withdrawn
    return None


async def _release_point(conn: AsyncConnection, incident_id: int) -> None:
    await conn.execute("UPDATE incidents SET service_point_id = NULL WHERE id = %s", (incident_id,))


async def _move(
    conn: AsyncConnection, incident_id: int, to_status: AlertStatus, request: Request
) -> None:
    stamp = _STAMP[to_status]  # a fixed column name from the table above
    await conn.execute(
        f"""
        UPDATE incidents SET status = %(status)s, {stamp} = coalesce({stamp}, now()),
            escalate_at = NULL, outcome = coalesce(%(outcome)s, outcome)
        WHERE id = %(id)s
        """,
        {
            "status": str(to_status),
            "outcome": str(request.outcome) if request.outcome else None,
            "id": incident_id,
        },
    )
    await conn.execute(
        "UPDATE alerts SET status = %s WHERE incident_id = %s", (str(to_status), incident_id)
    )


def _action_data(request: Request, point_id: str | None) -> dict[str, object] | None:
    data: dict[str, object] = {}
    if request.outcome:
        data["outcome"] = str(request.outcome)
    if point_id:
        # accept/decline: the point that answered; assign/close: the one no longer asked
        data["service_point_id" if request.action in _ANSWERS else "withdrawn_from"] = point_id
    return data or None
