"""One-key help (一键求助) end to end: a press published over MQTT to a real `anxin
serve` becomes a service request asked of the nearest point offering the service;
the point answers over the API; a decline asks the next; the call centre never sees
it; a request for a service Anxin does not know is dead-lettered with the reason."""

import time
from typing import Any

import psycopg

from testbed.services import Mosquitto
from tests.alerts.test_live_detection import publish
from tests.alerts.test_suggestions import ready
from tests.api_world import World, call
from tests.conftest import wait_until


def requests_of(db: psycopg.Connection) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT service, status, point_id, resident_id FROM service_requests ORDER BY id"
    ).fetchall()


def help_texts(db: psycopg.Connection) -> list[tuple[str, str, str]]:
    return db.execute(
        "SELECT recipient, body->'params'->>'who', body->'params'->>'service' FROM outbox"
        " WHERE body->>'template' = 'help_request' ORDER BY id"
    ).fetchall()


def answer(world: World, who: str, request_id: int, action: str) -> Any:
    return call(world, who, "POST", f"/api/v1/requests/{request_id}/{action}")


def test_a_help_press_is_asked_of_the_nearest_point_offering_it_and_never_pages_the_centre(
    world: World, db: psycopg.Connection, broker: Mosquitto
) -> None:
    ready(db)
    db.execute("UPDATE service_points SET capabilities = '{meal,24h}' WHERE id = 'sp1'")
    db.execute("UPDATE service_points SET capabilities = '{meal,emergency,24h}' WHERE id = 'sp2'")
    incidents_before = db.execute("SELECT count(*), max(id) FROM incidents").fetchone()
    audit_before = db.execute("SELECT count(*) FROM alert_audit").fetchone()
    press = {"ts": time.time(), "id": "h1", "type": "help", "data": {"service": "meal"}}
    publish(broker, "w1", "event", press, press)  # the second: a redelivery
    wait_until(lambda: bool(requests_of(db)), timeout=10, what="the help request")
    time.sleep(1)
    assert requests_of(db) == [("meal", "requested", "sp1", "r1")]
    assert db.execute("SELECT count(*), max(id) FROM incidents").fetchone() == incidents_before
    assert db.execute("SELECT count(*) FROM alert_audit").fetchone() == audit_before

    # sp1's nurse on shift is texted (the outbox keeps it: no SMS provider here)
    assert help_texts(db) == [("13800001111", "王秀英", "助餐")]
    (seen,) = call(world, "sp1", "GET", "/api/v1/requests").json()
    assert seen["history"][0]["decision"] == "asked"
    assert call(world, "carer", "GET", "/api/v1/requests").status_code == 403
    declined = answer(world, "sp1", seen["id"], "decline")
    assert declined.status_code == 200, declined.text
    assert declined.json()["point_id"] == "sp2"
    assert {t[0] for t in help_texts(db)[1:]} == {"13800002222", "13800003333"}
    skipped = {c["point_id"]: c["skipped"] for c in declined.json()["history"][-1]["considered"]}
    assert skipped["sp1"] == "declined_before"
    # no longer sp1's: it learns nothing of it
    assert answer(world, "sp1", seen["id"], "accept").status_code == 404
    assert call(world, "sp1", "GET", "/api/v1/requests").json() == []
    assert answer(world, "op", seen["id"], "done").status_code == 409  # not accepted yet
    assert answer(world, "op", seen["id"], "accept").json()["status"] == "accepted"
    assert answer(world, "op", seen["id"], "done").json()["status"] == "done"


def test_a_button_with_a_service_asks_for_it_and_an_unknown_service_is_dead_lettered(
    world: World, db: psycopg.Connection, broker: Mosquitto
) -> None:
    ready(db)
    db.execute("UPDATE service_points SET capabilities = '{cleaning,24h}' WHERE id = 'sp2'")
    now = time.time()
    publish(
        broker,
        "w1",
        "event",
        {"ts": now, "id": "b1", "type": "button", "data": {"service": "cleaning"}},
        {"ts": now, "id": "b2", "type": "help", "data": {"service": "pizza"}},
        {"ts": now, "id": "b3", "type": "button"},  # a plain press asks for nothing
    )
    wait_until(
        lambda: db.execute("SELECT count(*) FROM dead_letters").fetchone() == (1,),
        timeout=10,
        what="the dead letter",
    )
    wait_until(lambda: bool(requests_of(db)), timeout=10, what="the help request")
    assert requests_of(db) == [("cleaning", "requested", "sp2", "r1")]
    (reason,) = db.execute("SELECT reason FROM dead_letters").fetchone() or ("",)
    assert reason == (
        "help event needs data.service, one of meal, bath, cleaning, escort, medical,"
        " nursing; got 'pizza'"
    )
    stored = db.execute("SELECT event_key FROM events ORDER BY event_key").fetchall()
    assert stored == [("b1",), ("b3",)]


def test_an_operator_of_one_district_neither_sees_nor_touches_anothers_help_requests(
    world: World, db: psycopg.Connection, broker: Mosquitto
) -> None:
    ready(db)
    db.execute("UPDATE service_points SET capabilities = '{meal,24h}'")
    press = {"ts": time.time(), "id": "h-w2", "type": "help", "data": {"service": "meal"}}
    publish(broker, "w2", "event", press)  # r2 lives in 武昌区; op_jiangan works 江岸区
    wait_until(lambda: bool(requests_of(db)), timeout=10, what="the help request")
    (theirs,) = call(world, "op", "GET", "/api/v1/requests").json()
    assert call(world, "op_jiangan", "GET", "/api/v1/requests").json() == []
    for action in ("accept", "decline", "done", "cancel"):
        assert answer(world, "op_jiangan", theirs["id"], action).status_code == 404, action
    assert answer(world, "op", theirs["id"], "cancel").status_code == 200
    # finished, it is still not there for a stranger: a 404, not a 409 that tells
    for action in ("accept", "decline", "done", "cancel"):
        assert answer(world, "op_jiangan", theirs["id"], action).status_code == 404, action
    history = db.execute("SELECT history FROM service_requests").fetchone()
    assert history is not None
    assert "op_jiangan" not in str(history[0])
