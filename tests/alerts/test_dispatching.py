"""Sending incidents to points, on a real `anxin serve` and database: the nearest point
that can help now is asked, its accept dispatches; a decline or silence asks the next,
never the same one twice; nobody inside the circle escalates with the best outside and
a 120 prompt; many at once are assigned jointly. Every decision is in the timeline."""

import time
from datetime import datetime
from typing import Any

import psycopg
import pytest

from tests.alerts.test_suggestions import ready
from tests.api_world import World, call
from tests.conftest import wait_until

KM_LAT = 1 / 111.2  # degrees of latitude per km


def post(world: World, who: str, alert: str, action: str, **body: Any) -> dict[str, Any]:
    answer = call(
        world, who, "POST", f"/api/v1/alerts/{world.alerts[alert]}/{action}", json=body or None
    )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def timeline(world: World, alert: str) -> list[dict[str, Any]]:
    answer = call(world, "admin", "GET", f"/api/v1/alerts/{world.alerts[alert]}")
    assert answer.status_code == 200, answer.text
    return answer.json()["timeline"]  # type: ignore[no-any-return]


def decisions(world: World, alert: str) -> list[tuple[str, str | None]]:
    """(action, point) of each dispatch step in the timeline."""
    steps = ("offered", "accept", "decline", "offer_expired", "no_point")
    return [
        (e["action"], (e["data"] or {}).get("service_point_id"))
        for e in timeline(world, alert)
        if e["action"] in steps
    ]


def dispatch_together(world: World, *residents: str) -> Any:
    alert_ids = [world.alerts[r] for r in residents]
    return call(world, "op", "POST", "/api/v1/dispatch", json={"alert_ids": alert_ids})


def incident(db: psycopg.Connection, world: World, alert: str) -> tuple[Any, ...]:
    row = db.execute(
        "SELECT i.status, i.service_point_id, i.escalation_level FROM incidents i"
        " JOIN alerts a ON a.incident_id = i.id WHERE a.id = %s",
        (world.alerts[alert],),
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_assign_asks_the_nearest_point_that_can_help_and_its_accept_dispatches(
    world: World, db: psycopg.Connection
) -> None:
    ready(db)
    post(world, "op", "r1", "ack")
    post(world, "op", "r1", "assign")
    assert incident(db, world, "r1") == ("acknowledged", "sp1", 0)
    (offered,) = [e for e in timeline(world, "r1") if e["action"] == "offered"]
    assert offered["data"]["considered"][0]["point_id"] == "sp1"
    assert offered["data"]["minutes"] < 5
    assert offered["action_text"] == "已询问服务点"
    # sp1's own user sees the incident it was asked to take, and accepts it
    post(world, "sp1", "r1", "accept")
    assert incident(db, world, "r1") == ("dispatched", "sp1", 0)
    assert decisions(world, "r1") == [("offered", "sp1"), ("accept", "sp1")]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("hours = NULL, capabilities = '{emergency}'", "closed"),
        ("capacity = 0", "at_capacity"),
        ("capabilities = '{meal,24h}'", "lacks_capability"),
    ],
)
def test_a_point_that_cannot_help_now_is_passed_over_with_its_reason_in_the_timeline(
    world: World, db: psycopg.Connection, change: str, reason: str
) -> None:
    ready(db)
    db.execute(f"UPDATE service_points SET {change} WHERE id = 'sp1'")
    post(world, "op", "r1", "ack")
    post(world, "op", "r1", "assign")
    assert incident(db, world, "r1") == ("acknowledged", "sp2", 0)
    (offered,) = [e for e in timeline(world, "r1") if e["action"] == "offered"]
    considered = [(c["point_id"], c["skipped"]) for c in offered["data"]["considered"]]
    assert considered == [("sp1", reason), ("sp2", None)]


def test_a_decline_asks_the_next_point_and_nobody_left_escalates_with_a_120_prompt(
    world: World, db: psycopg.Connection
) -> None:
    ready(db)
    post(world, "op", "r1", "ack")
    post(world, "op", "r1", "assign")
    post(world, "sp1", "r1", "decline", note="两位护士都在外")
    assert incident(db, world, "r1") == ("acknowledged", "sp2", 0)
    # sp1 is not asked again, whatever it is
    post(world, "op", "r1", "decline", note="积玉桥站电话拒单")  # sp2 said no on the phone
    assert incident(db, world, "r1") == ("acknowledged", None, 1)
    assert decisions(world, "r1") == [
        ("offered", "sp1"),
        ("decline", "sp1"),
        ("offered", "sp2"),
        ("decline", "sp2"),
        ("no_point", None),
    ]
    last = timeline(world, "r1")[-1]
    assert last["data"]["to"] == "supervisor"
    assert last["escalated_to_text"] == "值班主管"
    assert last["data"]["call_120"] is True
    skipped = {c["point_id"]: c["skipped"] for c in last["data"]["considered"]}
    assert skipped == {"sp1": "declined_before", "sp2": "declined_before"}


def test_an_offer_nobody_answers_in_time_goes_to_the_next_point_within_2s(
    world: World, db: psycopg.Connection
) -> None:
    ready(db)
    db.execute("UPDATE service_points SET accept_within_s = 10 WHERE id = 'sp1'")
    post(world, "op", "r1", "ack")
    post(world, "op", "r1", "assign")
    wait_until(lambda: incident(db, world, "r1")[1] == "sp2", timeout=20, what="the offer to sp2")
    assert decisions(world, "r1") == [
        ("offered", "sp1"),
        ("offer_expired", "sp1"),
        ("offered", "sp2"),
    ]
    expired = next(e for e in timeline(world, "r1") if e["action"] == "offer_expired")
    late = datetime.fromisoformat(expired["at"]) - datetime.fromisoformat(
        expired["data"]["answer_by"]
    )
    assert 0 <= late.total_seconds() < 2


def test_with_nobody_inside_the_circle_the_supervisor_gets_the_best_outside(
    world: World, db: psycopg.Connection
) -> None:
    ready(db)
    db.execute("UPDATE service_points SET lat = lat + 0.2")  # 22 km north: an hour away
    post(world, "op", "r1", "ack")
    post(world, "op", "r1", "assign")
    assert incident(db, world, "r1") == ("acknowledged", None, 1)
    (nobody,) = [e for e in timeline(world, "r1") if e["action"] == "no_point"]
    assert nobody["data"]["outside"]["point_id"] == "sp2"
    assert nobody["data"]["outside"]["minutes"] > 15
    assert nobody["data"]["call_120"] is True
    assert nobody["action_text"] == "服务圈内无可派服务点"


def test_a_surge_is_assigned_jointly_for_the_least_total_travel(
    world: World, db: psycopg.Connection
) -> None:
    """On one street: r2, sp1 0.45 km on, r1 0.3 km past sp1, sp2 0.6 km past r1.
    Each point has one person free. One at a time, r1 takes sp1 (0.3 km) and r2 is
    left with sp2 (1.35 km); together, r2 gets sp1 and r1 sp2 (1.05 km in all)."""
    ready(db)
    base = 30.6
    for table, key, km in (
        ("residents", "r2", 0.0),
        ("service_points", "sp1", 0.45),
        ("residents", "r1", 0.75),
        ("service_points", "sp2", 1.35),
    ):
        lat_col, lon_col = ("home_lat", "home_lon") if table == "residents" else ("lat", "lon")
        db.execute(
            f"UPDATE {table} SET {lat_col} = %s, {lon_col} = 114.3 WHERE id = %s",
            (base + km * KM_LAT, key),
        )
    for alert in ("r1", "r2"):
        post(world, "op", alert, "ack")
    answer = dispatch_together(world, "r1", "r2")
    assert answer.status_code == 200, answer.text
    assert incident(db, world, "r1")[1] == "sp2"
    assert incident(db, world, "r2")[1] == "sp1"
    (offered,) = [e for e in timeline(world, "r1") if e["action"] == "offered"]
    assert offered["data"]["surge"] == 2


def test_a_surge_with_one_incident_not_ready_changes_nothing(
    world: World, db: psycopg.Connection
) -> None:
    ready(db)
    post(world, "op", "r1", "ack")  # r2 still open
    before = db.execute("SELECT count(*) FROM alert_audit").fetchone()
    answer = dispatch_together(world, "r1", "r2")
    assert answer.status_code == 409, answer.text
    assert "legal from open" in answer.json()["detail"]
    assert db.execute("SELECT count(*) FROM alert_audit").fetchone() == before
    time.sleep(0.1)
    assert incident(db, world, "r1") == ("acknowledged", None, 0)
