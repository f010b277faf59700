"""The incident lifecycle against the real database: every legal and illegal
transition, audit rows, grouping into incidents, repeats, and the CHECKs."""

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TypeVar

import psycopg
import pytest

from alerts import lifecycle
from alerts.errors import BadAction, IllegalTransition, UnknownAlert
from alerts.lifecycle import TRANSITIONS, Action, Request
from alerts.models import AlertStatus, Finding, OpenedAlert, Resolution, Severity
from alerts.reasons import CODES
from alerts.response.dispatching import Dispatcher
from alerts.service import open_alert
from dispatch.choosing import DispatchPolicy
from kernel.errors import NotFound
from tests.conftest import register

T = TypeVar("T")
_keys = itertools.count()


def run(database_url: str, work: Callable[[psycopg.AsyncConnection], Awaitable[T]]) -> T:
    async def main() -> T:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            return await work(conn)

    # a thread of its own: Playwright's sync API (the browser tests) keeps a loop
    # running in this one, and asyncio.run refuses to start inside it
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, main()).result()


def finding(device: str, rule: str = "sos", severity: Severity = Severity.P1) -> Finding:
    return Finding(
        device_id=device,
        rule=rule,
        severity=severity,
        reason=rule,
        observed_at=datetime.now(UTC),
        dedup_key=f"{device}:{rule}:{next(_keys)}",
        code=rule if rule in CODES else None,
    )


def open_one(database_url: str, f: Finding) -> OpenedAlert:
    async def work(conn: psycopg.AsyncConnection) -> OpenedAlert:
        async with conn.transaction():
            opened = await open_alert(conn=conn, finding=f)
        assert opened is not None
        return opened

    return run(database_url, work)


# what the service hands every act: the nearest point that can help, by default policy
DISPATCHER = Dispatcher(DispatchPolicy())


def act(database_url: str, alert_id: int, action: Action, **kw: object) -> lifecycle.Change:
    defaults: dict[str, object] = {
        Action.RESOLVE: {"outcome": Resolution.FALSE_ALARM, "note": "resident fine on the phone"},
        Action.NOTE: {"note": "called the daughter"},
        Action.ASSIGN: {"service_point_id": "sp1"},
    }.get(action, {})  # type: ignore[assignment]
    request = Request(action=action, actor="op1", **{**defaults, **kw})  # type: ignore[arg-type]
    return run(
        database_url,
        lambda conn: lifecycle.act(
            conn=conn, alert_id=alert_id, request=request, dispatcher=DISPATCHER
        ),
    )


# the shortest way to bring an incident to each status
PATH: dict[AlertStatus, list[Action]] = {
    AlertStatus.OPEN: [],
    AlertStatus.ACKNOWLEDGED: [Action.ACK],
    AlertStatus.DISPATCHED: [Action.ACK, Action.ASSIGN, Action.ACCEPT],
    AlertStatus.ON_SCENE: [Action.ACK, Action.ASSIGN, Action.ACCEPT, Action.ARRIVE],
    AlertStatus.RESOLVED: [Action.ACK, Action.RESOLVE],
    AlertStatus.CANCELLED: [Action.CANCEL],
}


@pytest.fixture
def watch(db: psycopg.Connection) -> str:
    register(db, "w1")
    db.execute(
        "INSERT INTO service_points (id, name, kind, lat, lon) VALUES"
        " ('sp1', 'Point 1', 'station', 30.5, 114.3)"
    )
    return "w1"


CASES = [(status, action) for status in AlertStatus for action in Action]


@pytest.mark.parametrize(("status", "action"), CASES, ids=[f"{s}-{a}" for s, a in CASES])
def test_every_action_from_every_status_is_applied_or_refused_with_the_legal_ones(
    database_url: str, db: psycopg.Connection, watch: str, status: AlertStatus, action: Action
) -> None:
    alert = open_one(database_url, finding(watch))
    for step in PATH[status]:
        act(database_url, alert.id, step)
    if action in (Action.ACCEPT, Action.DECLINE) and status is AlertStatus.ACKNOWLEDGED:
        act(database_url, alert.id, Action.ASSIGN)  # a point asked, to answer
    audit_before = db.execute("SELECT count(*) FROM alert_audit").fetchone()
    expected = TRANSITIONS[action].get(status)
    if expected is None:
        with pytest.raises(IllegalTransition) as refused:
            act(database_url, alert.id, action)
        assert refused.value.status_code == 409
        assert refused.value.legal == lifecycle.legal_actions(status)
        assert f"legal from {status}" in str(refused.value)
        # nothing half-written
        assert db.execute("SELECT count(*) FROM alert_audit").fetchone() == audit_before
        row = db.execute("SELECT status FROM incidents WHERE id = %s", (alert.incident_id,))
        assert row.fetchone() == (str(status),)
        return
    change = act(database_url, alert.id, action)
    assert (change.from_status, change.to_status) == (status, expected)
    incident = db.execute(
        "SELECT status, escalate_at IS NULL FROM incidents WHERE id = %s", (alert.incident_id,)
    ).fetchone()
    assert incident == (str(expected), expected != AlertStatus.OPEN)
    assert db.execute("SELECT status FROM alerts WHERE id = %s", (alert.id,)).fetchone() == (
        str(expected),
    )
    audit = db.execute(
        "SELECT actor, action, from_status, to_status FROM alert_audit WHERE id = %s",
        (change.audit_id,),
    ).fetchone()
    assert audit == ("op1", str(action), str(status), str(expected))


@pytest.mark.parametrize("answer", [Action.ACCEPT, Action.DECLINE])
def test_no_point_answers_an_incident_no_point_was_asked_to_take(
    database_url: str, db: psycopg.Connection, watch: str, answer: Action
) -> None:
    alert = open_one(database_url, finding(watch))
    act(database_url, alert.id, Action.ACK)
    with pytest.raises(IllegalTransition, match="no service point has been asked") as refused:
        act(database_url, alert.id, answer)
    assert Action.ASSIGN in refused.value.legal
    assert answer not in refused.value.legal
    assert db.execute("SELECT status FROM incidents").fetchone() == ("acknowledged",)


def test_nothing_is_resolved_before_someone_acknowledged_it(database_url: str, watch: str) -> None:
    alert = open_one(database_url, finding(watch))
    with pytest.raises(IllegalTransition, match="legal from open: ack, cancel, note"):
        act(database_url, alert.id, Action.RESOLVE)


def test_resolving_needs_an_outcome_and_a_note_and_notes_have_a_size_limit() -> None:
    with pytest.raises(BadAction, match="outcome code and a note"):
        Request(action=Action.RESOLVE, actor="op1", outcome=Resolution.ASSISTED)
    with pytest.raises(BadAction, match="outcome code and a note"):
        Request(action=Action.RESOLVE, actor="op1", note="fine")
    with pytest.raises(BadAction, match="at most 4000"):
        Request(action=Action.NOTE, actor="op1", note="x" * 4097)


def test_an_unknown_alert_or_service_point_is_refused_and_nothing_is_written(
    database_url: str, db: psycopg.Connection, watch: str
) -> None:
    with pytest.raises(UnknownAlert):
        act(database_url, 999_999, Action.ACK)
    alert = open_one(database_url, finding(watch))
    act(database_url, alert.id, Action.ACK)
    before = db.execute("SELECT count(*) FROM alert_audit").fetchone()
    with pytest.raises(NotFound, match="unknown service point 'nowhere'"):
        act(database_url, alert.id, Action.ASSIGN, service_point_id="nowhere")
    assert db.execute("SELECT count(*) FROM alert_audit").fetchone() == before
    assert db.execute("SELECT status FROM incidents").fetchone() == ("acknowledged",)


def test_the_tables_refuse_an_unknown_status_or_a_resolution_without_outcome(
    db: psycopg.Connection, database_url: str, watch: str
) -> None:
    alert = open_one(database_url, finding(watch))
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("UPDATE alerts SET status = 'closed' WHERE id = %s", (alert.id,))
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("UPDATE incidents SET status = 'resolved' WHERE id = %s", (alert.incident_id,))
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("UPDATE incidents SET outcome = 'lost' WHERE id = %s", (alert.incident_id,))


def test_a_residents_fall_sos_and_high_heart_rate_are_one_incident_at_the_highest_severity(
    database_url: str, db: psycopg.Connection
) -> None:
    db.execute("INSERT INTO residents (id, name, district) VALUES ('r1', '王秀英', '江岸区')")
    register(db, "watch1", "button1")
    db.execute("UPDATE devices SET resident_id = 'r1'")
    hr = open_one(database_url, finding("watch1", "vitals_news2", Severity.P3))
    sos = open_one(database_url, finding("button1", "sos", Severity.P1))
    again = open_one(database_url, finding("watch1", "vitals_news2", Severity.P3))
    assert hr.incident_id == sos.incident_id == again.incident_id
    assert (again.id, again.new) == (hr.id, False)
    incident = db.execute("SELECT severity, district FROM incidents").fetchone()
    assert incident == ("P1", "江岸区")
    counts = db.execute("SELECT rule, count FROM alerts ORDER BY id").fetchall()
    assert counts == [("vitals_news2", 2), ("sos", 1)]
    actions = [r[0] for r in db.execute("SELECT action FROM alert_audit ORDER BY id")]
    assert actions == ["opened", "alert_opened", "alert_opened", "repeated"]


def test_a_redelivered_finding_changes_nothing(
    database_url: str, db: psycopg.Connection, watch: str
) -> None:
    f = finding(watch)
    open_one(database_url, f)

    async def again(conn: psycopg.AsyncConnection) -> OpenedAlert | None:
        return await open_alert(conn=conn, finding=f)

    assert run(database_url, again) is None
    assert db.execute(
        "SELECT count, (SELECT count(*) FROM alert_audit) FROM alerts"
    ).fetchone() == (
        1,
        2,
    )


def test_a_new_finding_after_resolution_opens_a_new_incident(
    database_url: str, db: psycopg.Connection, watch: str
) -> None:
    first = open_one(database_url, finding(watch))
    act(database_url, first.id, Action.ACK)
    act(database_url, first.id, Action.RESOLVE)
    second = open_one(database_url, finding(watch))
    assert second.incident_id != first.incident_id
    assert second.new
    assert db.execute("SELECT count(*) FROM incidents").fetchone() == (2,)


def test_an_sos_joining_an_acknowledged_lesser_incident_must_be_acknowledged_anew(
    database_url: str, db: psycopg.Connection, watch: str
) -> None:
    battery = open_one(database_url, finding(watch, "low_battery", Severity.P3))
    act(database_url, battery.id, Action.ACK)
    sos = open_one(database_url, finding(watch, "sos", Severity.P1))
    assert sos.incident_id == battery.incident_id
    row = db.execute(
        "SELECT status, severity, escalate_at - now() FROM incidents WHERE id = %s",
        (sos.incident_id,),
    ).fetchone()
    assert row is not None
    assert row[:2] == ("open", "P1")
    assert row[2].total_seconds() == pytest.approx(60, abs=2)
    last = db.execute(
        "SELECT action, from_status, to_status FROM alert_audit ORDER BY id DESC LIMIT 2"
    ).fetchall()
    assert ("reopened", "acknowledged", "open") in last
    act(database_url, sos.id, Action.ACK)  # and it can be acknowledged again


def test_a_more_urgent_finding_brings_an_open_incidents_deadline_forward(
    database_url: str, db: psycopg.Connection, watch: str
) -> None:
    open_one(database_url, finding(watch, "low_battery", Severity.P3))
    late = db.execute("SELECT escalate_at - opened_at FROM incidents").fetchone()
    open_one(database_url, finding(watch, "sos", Severity.P1))
    soon = db.execute("SELECT escalate_at - now(), severity FROM incidents").fetchone()
    assert late is not None
    assert late[0].total_seconds() == pytest.approx(1800, abs=2)
    assert soon is not None
    assert soon[0].total_seconds() == pytest.approx(60, abs=2)
    assert soon[1] == "P1"
