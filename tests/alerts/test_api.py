"""The operator API on a running `anxin serve`: every route by every role, scopes, and
bad input answered with a 4xx that says what is wrong."""

import subprocess
import sys

import httpx
import psycopg
import pytest

from alerts import lifecycle
from alerts.lifecycle import Action
from alerts.models import AlertStatus
from tests.alerts.test_lifecycle import DISPATCHER, PATH, finding, open_one, run
from tests.api_world import USERS, World, admin_act, call
from tests.conftest import register

# what each user sees of r1 (江岸区, carer's mother), r2 and r3 (武昌区; r3 sent to sp2)
SEES = {
    "op": {"r1", "r2", "r3"},
    "op_jiangan": {"r1"},
    "sup": {"r1", "r2", "r3"},
    "admin": {"r1", "r2", "r3"},
    "sp1": set(),
    "carer": {"r1"},
}


@pytest.mark.parametrize("who", list(USERS))
def test_each_role_reads_only_the_incidents_in_its_scope(world: World, who: str) -> None:
    listed = call(world, who, "GET", "/api/v1/incidents")
    assert listed.status_code == 200, listed.text
    assert {i["resident_id"] for i in listed.json()["items"]} == SEES[who]
    alerts = call(world, who, "GET", "/api/v1/alerts")
    assert {a["resident_id"] for a in alerts.json()["items"]} == SEES[who]
    for resident, alert_id in world.alerts.items():
        one = call(world, who, "GET", f"/api/v1/alerts/{alert_id}")
        assert one.status_code == (200 if resident in SEES[who] else 404), (resident, one.text)


# who may take each action (everyone else: 403, whatever the incident)
MAY = {
    Action.ACK: {"op", "op_jiangan", "sup", "admin"},
    Action.ASSIGN: {"op", "op_jiangan", "sup", "admin"},
    Action.ACCEPT: {"op", "op_jiangan", "sup", "admin", "sp1"},
    Action.DECLINE: {"op", "op_jiangan", "sup", "admin", "sp1"},
    Action.CANCEL: {"op", "op_jiangan", "sup", "admin"},
    Action.ARRIVE: {"op", "op_jiangan", "sup", "admin", "sp1"},
    Action.RESOLVE: {"op", "op_jiangan", "sup", "admin", "sp1"},
    Action.NOTE: set(USERS),
}
# the steps to an action's usual starting point
FROM = {
    Action.ACK: PATH[AlertStatus.OPEN],
    Action.ASSIGN: PATH[AlertStatus.ACKNOWLEDGED],
    # sp1 asked (admin_act assigns to sp1)
    Action.ACCEPT: [Action.ACK, Action.ASSIGN],
    Action.DECLINE: [Action.ACK, Action.ASSIGN],
    Action.CANCEL: PATH[AlertStatus.OPEN],
    Action.ARRIVE: PATH[AlertStatus.DISPATCHED],
    Action.RESOLVE: PATH[AlertStatus.ON_SCENE],
    Action.NOTE: PATH[AlertStatus.DISPATCHED],
}
BODY: dict[Action, dict[str, str]] = {
    Action.ASSIGN: {"service_point_id": "sp1"},
    Action.RESOLVE: {"outcome": "assisted", "note": "helped back to bed"},
    Action.NOTE: {"note": "已电话联系女儿"},
}


def test_every_action_by_every_role(world: World, database_url: str) -> None:
    """Each user on a fresh incident of r1 (in every scope) brought to where the action
    is legal and, for sp1 to see it, sent to sp1 where the path allows."""
    outcomes = {}
    for action, steps in FROM.items():
        for who in USERS:
            alert_id = world.alerts["r1"]
            # a fresh incident for r1: close the last one, open another
            close(database_url, alert_id)
            alert_id = open_one(database_url, finding("w1")).id
            world.alerts["r1"] = alert_id
            for step in steps:
                admin_act(database_url, alert_id, step)
            answer = call(
                world, who, "POST", f"/api/v1/alerts/{alert_id}/{action}", json=BODY.get(action)
            )
            outcomes[(action, who)] = answer.status_code
    expected = {
        (action, who): 200 if who in MAY[action] else 403 for action in FROM for who in USERS
    }
    assert outcomes == expected


def close(database_url: str, alert_id: int) -> None:
    async def work(conn: psycopg.AsyncConnection) -> None:
        cur = await conn.execute(
            "SELECT i.status FROM incidents i JOIN alerts a ON a.incident_id = i.id"
            " WHERE a.id = %s",
            (alert_id,),
        )
        row = await cur.fetchone()
        assert row is not None
        if not AlertStatus(row[0]).closed:
            await lifecycle.act(
                conn=conn, alert_id=alert_id, request=lifecycle.Request(Action.CANCEL, "admin"),
                dispatcher=DISPATCHER,
            )  # fmt: skip

    run(database_url, work)


def test_a_missing_or_forged_token_is_401_on_every_route(world: World) -> None:
    alert_id = world.alerts["r1"]
    routes = [
        ("GET", "/api/v1/incidents"),
        ("GET", "/api/v1/alerts"),
        ("GET", f"/api/v1/alerts/{alert_id}"),
        ("POST", f"/api/v1/alerts/{alert_id}/ack"),
        ("GET", "/api/v1/stream"),
    ]
    forged = world.tokens["admin"][:-4] + "AAAA"
    for method, path in routes:
        for headers in ({}, {"Authorization": f"Bearer {forged}"}, {"Authorization": "Bearer x"}):
            answer = httpx.request(method, world.base + path, headers=headers, timeout=10)
            assert answer.status_code == 401, (method, path, headers, answer.text)
            assert answer.json()["detail"]
    assert call(world, "admin", "GET", f"/api/v1/alerts/{alert_id}").status_code == 200


def test_every_refusal_carries_a_code_of_the_projects_and_never_a_librarys_sentence(
    world: World,
) -> None:
    alert_id = world.alerts["r1"]
    long_note = {"note": "秘" * 4100}
    refused = call(world, "op", "POST", f"/api/v1/alerts/{alert_id}/note", json=long_note)
    assert refused.status_code == 422
    assert refused.json() == {
        "code": "invalid_request",
        "message": "body.note: 至多 4000 个字符",
        "detail": "body.note: must be at most 4000 characters",
        "errors": [
            {"field": "body.note", "code": "string_too_long", "message": "至多 4000 个字符"}
        ],
    }  # Chinese first, and the input is not echoed back
    english = call(
        world, "op", "GET", "/api/v1/incidents?limit=0", headers={"Accept-Language": "en"}
    )
    assert english.json()["errors"] == [
        {"field": "query.limit", "code": "greater_than_equal", "message": "must be at least 1"}
    ]
    missing = call(world, "op", "GET", "/api/v1/alerts/999999")
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_alert")
    illegal = call(
        world, "op", "POST", f"/api/v1/alerts/{alert_id}/resolve",
        json={"outcome": "assisted", "note": "x"},
    )  # fmt: skip
    assert (illegal.status_code, illegal.json()["code"]) == (409, "illegal_transition")
    # what an operator reads: Chinese words for the status and the actions, no code
    assert illegal.json()["message"] == "事件当前待受理，不能结案；现在可以：受理、取消、备注"
    english = call(
        world, "op", "POST", f"/api/v1/alerts/{alert_id}/resolve",
        json={"outcome": "assisted", "note": "x"}, headers={"Accept-Language": "en"},
    )  # fmt: skip
    assert english.json()["message"].startswith("cannot resolve an incident that is open")
    anonymous = httpx.get(f"{world.base}/api/v1/incidents", timeout=10)
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthorized")


def test_bad_input_is_a_4xx_that_says_what_is_wrong_and_writes_nothing(
    world: World, db: psycopg.Connection
) -> None:
    alert_id = world.alerts["r1"]
    audit = db.execute("SELECT count(*) FROM alert_audit").fetchone()

    def expect(status: int, method: str, path: str, says: str, **kw: object) -> None:
        answer = call(world, "op", method, path, **kw)
        assert answer.status_code == status, (path, answer.text)
        assert says in answer.text, answer.text

    expect(404, "GET", "/api/v1/alerts/999999", "no alert 999999")
    expect(422, "GET", "/api/v1/alerts/abc", "alert_id")
    expect(422, "GET", "/api/v1/alerts/99999999999999999999", "alert_id")
    expect(404, "POST", f"/api/v1/alerts/{alert_id}/explode", "not_found")
    expect(
        409,
        "POST",
        f"/api/v1/alerts/{alert_id}/resolve",
        "legal from open: ack, cancel, note",
        json={"outcome": "assisted", "note": "x"},
    )
    expect(422, "POST", f"/api/v1/alerts/{alert_id}/note", "至多 4000", json={"note": "长" * 4097})
    expect(422, "POST", f"/api/v1/alerts/{alert_id}/note", '"field":"body","code":"missing"')
    expect(422, "POST", f"/api/v1/alerts/{alert_id}/note", "body.note", json={"note": ""})
    expect(422, "GET", "/api/v1/incidents?status=closed", "status")
    expect(422, "GET", "/api/v1/incidents?priority=P9", "priority")
    expect(422, "GET", "/api/v1/incidents?from=yesterday", "from")
    expect(422, "GET", "/api/v1/incidents?cursor=bm9wZQ", "cursor")
    expect(422, "GET", "/api/v1/incidents?limit=0", "limit")
    broken = httpx.post(
        f"{world.base}/api/v1/alerts/{alert_id}/note",
        content=b"{not json",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {world.tokens['op']}",
        },
    )
    assert broken.status_code == 422
    assert broken.json()["code"] == "invalid_request"
    assert [e["code"] for e in broken.json()["errors"]] == ["json_invalid"]
    sneaky = call(world, "op", "GET", "/api/v1/incidents", params={"district": "x' OR '1'='1"})
    assert (sneaky.status_code, sneaky.json()["items"]) == (200, [])
    assert db.execute("SELECT count(*) FROM alert_audit").fetchone() == audit
    # after a refusal, the legal action still works
    ack = call(world, "op", "POST", f"/api/v1/alerts/{alert_id}/ack")
    assert ack.json()["to_status"] == "acknowledged"
    expect(
        422,
        "POST",
        f"/api/v1/alerts/{alert_id}/resolve",
        "outcome",
        json={"outcome": "unknown_code", "note": "x"},
    )
    expect(
        404,  # the body names a point that is not there
        "POST",
        f"/api/v1/alerts/{alert_id}/assign",
        "unknown service point 'nope'",
        json={"service_point_id": "nope"},
    )


def test_the_queue_pages_by_cursor_most_urgent_then_oldest(
    world: World, database_url: str, db: psycopg.Connection
) -> None:
    from alerts.models import Severity

    register(db, *(f"u{k}" for k in range(7)))
    for k in range(7):
        open_one(database_url, finding(f"u{k}", "low_battery", Severity.P3))
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        page = call(
            world,
            "admin",
            "GET",
            "/api/v1/incidents",
            params={"limit": 4, **({"cursor": cursor} if cursor else {})},
        ).json()
        seen += [(i["severity"], i["opened_at"]) for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 10  # r1, r2, r3 (P1) and the seven P3 sensors
    assert seen == sorted(seen)


def test_users_add_prints_a_token_that_works_as_its_last_line(
    world: World, anxin_env: dict[str, str]
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "anxin.cli",
            "users",
            "add",
            "zhang",
            "--role",
            "operator",
            "--district",
            "江岸区",
        ],
        env=anxin_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    world.tokens["zhang"] = token
    listed = call(world, "zhang", "GET", "/api/v1/incidents").json()["items"]
    assert {i["resident_id"] for i in listed} == {"r1"}
    again = subprocess.run(
        [sys.executable, "-m", "anxin.cli", "users", "add", "zhang", "--role", "admin"],
        env=anxin_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (again.returncode, again.stderr.strip()) == (1, "anxin: user 'zhang' exists already")
    bad = subprocess.run(
        [sys.executable, "-m", "anxin.cli", "users", "add", "li", "--role", "service_point"],
        env=anxin_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["anxin: a service_point user needs --service-point"]


def test_every_route_by_every_role(world: World) -> None:
    """The whole surface in one table (actions per role: test_every_action_by_every_role)."""
    r1 = world.alerts["r1"]
    profile = {"name": "王秀英", "district": "江岸区"}
    routes = {
        "GET /api/v1/incidents": {},
        "GET /api/v1/alerts": {},
        f"GET /api/v1/alerts/{r1}": {},
        f"POST /api/v1/alerts/{r1}/note": {"json": {"note": "回访"}},
        "GET /api/v1/residents/r1": {},
        "PUT /api/v1/residents/r1": {"json": profile},
        "GET /api/v1/reports/sla": {},
    }
    everyone = dict.fromkeys(USERS, 200)
    expected = {
        "GET /api/v1/incidents": everyone,
        "GET /api/v1/alerts": everyone,
        f"GET /api/v1/alerts/{r1}": {**everyone, "sp1": 404},  # not sp1's incident
        f"POST /api/v1/alerts/{r1}/note": {**everyone, "sp1": 404},
        "GET /api/v1/residents/r1": {**everyone, "sp1": 404},
        "PUT /api/v1/residents/r1": {
            **dict.fromkeys(USERS, 403),
            "sup": 200,
            "admin": 200,
        },
        "GET /api/v1/reports/sla": {**everyone, "sp1": 403, "carer": 403},
    }
    answers = {
        route: {
            who: call(world, who, *route.split(" ", 1), **kw).status_code  # type: ignore[arg-type]
            for who in USERS
        }
        for route, kw in routes.items()
    }
    assert answers == expected
    for who in USERS:  # the stream opens for everyone, each within their scope
        with httpx.stream(
            "GET",
            f"{world.base}/api/v1/stream",
            headers={"Authorization": f"Bearer {world.tokens[who]}"},
            timeout=5,
        ) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")


def test_an_alert_shows_the_device_battery_last_reported_on_either_channel(
    world: World, db: psycopg.Connection
) -> None:
    db.execute(
        "INSERT INTO device_status (ts, device_id, online, battery)"
        " VALUES (now() - interval '2 hours', 'w1', true, 80)"
    )
    db.execute("INSERT INTO vitals (ts, device_id, hr, battery) VALUES (now(), 'w1', 70, 35)")
    device = call(world, "op", "GET", f"/api/v1/alerts/{world.alerts['r1']}").json()["device"]
    assert (device["battery"], device["online"]) == (35, True)
    db.execute("INSERT INTO device_status (ts, device_id, battery) VALUES (now(), 'w1', 34)")
    device = call(world, "op", "GET", f"/api/v1/alerts/{world.alerts['r1']}").json()["device"]
    assert device["battery"] == 34
