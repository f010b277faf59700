"""Escalation of incidents nobody acknowledged, on real `anxin serve` processes: on
time, step after step, once across a kill -9, and once with two instances."""

import time
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from alerts.lifecycle import Action
from testbed.services import Mosquitto
from tests.api_world import admin_act
from tests.conftest import ServeProcess, register, wait_until
from tests.ingest.test_end_to_end import publisher

SOS = "anxin/v1/{}/event"


def escalations(db: psycopg.Connection) -> list[tuple[int, int, str, datetime, datetime]]:
    """(incident, level, to, when, opened_at) of every escalation, in order."""
    rows = db.execute(
        "SELECT e.incident_id, (e.data->>'level')::int, e.data->>'to', e.at, i.opened_at"
        " FROM alert_audit e JOIN incidents i ON i.id = e.incident_id"
        " WHERE e.action = 'escalated' ORDER BY e.id"
    ).fetchall()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def press(broker: Mosquitto, device: str) -> None:
    with publisher(broker) as pub:
        pub.publish(SOS.format(device), {"ts": time.time(), "type": "sos"}, "event")


def test_a_p1_nobody_acknowledges_escalates_within_62_s_and_is_due_again_a_deadline_later(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    """With the real deadline (P1: 60 s). That each later step fires, level after
    level, is the two-instance test's (with a 1 s deadline)."""
    register(db, "btn1", kind="sos_button")
    serve.start()
    press(broker, "btn1")
    wait_until(lambda: len(escalations(db)) >= 1, timeout=70, what="the first escalation")
    ((_inc, level, to, at, opened),) = escalations(db)
    assert (level, to) == (1, "supervisor")
    assert 60 <= (at - opened).total_seconds() <= 62
    row = db.execute(
        "SELECT escalation_level, status, extract(epoch FROM escalate_at - opened_at)"
        " FROM incidents"
    ).fetchone()
    assert row is not None
    assert row[:2] == (1, "open")
    assert float(row[2]) == pytest.approx(120, abs=0.5)  # the schedule kept: the next at 2 min


def test_an_acknowledged_incident_does_not_escalate(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess, database_url: str
) -> None:
    register(db, "btn1", kind="sos_button")
    serve.env["ANXIN_ACK_DEADLINE_P1_S"] = "2"
    serve.start()
    press(broker, "btn1")
    wait_until(
        lambda: db.execute("SELECT count(*) FROM alerts").fetchone() == (1,),
        timeout=10,
        what="the SOS alert",
    )
    alert_id = db.execute("SELECT id FROM alerts").fetchone()[0]  # type: ignore[index]
    admin_act(database_url, alert_id, Action.ACK)
    time.sleep(4)
    assert escalations(db) == []


def test_a_deadline_that_passes_while_the_service_is_killed_escalates_once_after_restart(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    register(db, "btn1", kind="sos_button")
    serve.env["ANXIN_ACK_DEADLINE_P1_S"] = "4"
    serve.start()
    press(broker, "btn1")
    wait_until(
        lambda: db.execute("SELECT count(*) FROM incidents").fetchone() == (1,),
        timeout=10,
        what="the incident",
    )
    serve.kill9()
    time.sleep(5)  # the deadline passes with nobody running
    assert escalations(db) == []
    restarted = time.time()
    serve.start()
    wait_until(lambda: len(escalations(db)) >= 1, timeout=10, what="the escalation")
    time.sleep(1)  # a double would show up by now; the next step is 4 s away
    steps = escalations(db)
    assert [s[1] for s in steps] == [1]
    assert steps[0][3].timestamp() - restarted < 10


def test_two_instances_on_one_database_escalate_each_step_once(
    db: psycopg.Connection,
    broker: Mosquitto,
    serve: ServeProcess,
    anxin_env: dict[str, str],
    tmp_path: Path,
) -> None:
    register(db, *(f"btn{k}" for k in range(10)), kind="sos_button")
    serve.env["ANXIN_ACK_DEADLINE_P1_S"] = "1"
    other = serve.another(tmp_path / "second.log")
    serve.start()
    other.start()
    try:
        with publisher(broker) as pub:
            for k in range(10):
                pub.publish(SOS.format(f"btn{k}"), {"ts": time.time(), "type": "sos"}, "event")
        time.sleep(6.5)  # about six steps each, from two instances polling twice a second
    finally:
        other.stop()
    steps = escalations(db)
    per_incident: dict[int, list[int]] = {}
    for incident, level, *_ in steps:
        per_incident.setdefault(incident, []).append(level)
    assert len(per_incident) == 10
    for levels in per_incident.values():
        assert levels == list(range(1, len(levels) + 1))  # no step twice, none skipped
        assert len(levels) >= 4
