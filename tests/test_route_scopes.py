"""Every route, and the scope it enforces: a route missing from this table fails the
suite, so a new one cannot forget whose work it shows; and for every route that takes
an object of a resident's, an operator of another district gets a 404, whatever the
object's state (nobody learns what they may not see)."""

import httpx
import psycopg

from access.accounts import Role, UserIn, add_user
from alerts.lifecycle import Action
from anxin.app import create_app
from anxin.settings import Settings
from tests.alerts.test_lifecycle import run
from tests.api_world import World

DISTRICT = "district"  # a list, filtered to the caller's districts (or point, or contacts)
OBJECT = "district-object"  # one resident's object: outside the caller's scope, 404
SCOPES = {
    ("GET", "/api/v1/incidents"): DISTRICT,
    ("GET", "/api/v1/incidents/{incident_id}"): OBJECT,
    ("GET", "/api/v1/map"): DISTRICT,
    ("GET", "/api/v1/alerts"): DISTRICT,
    ("GET", "/api/v1/alerts/{alert_id}"): OBJECT,
    ("GET", "/api/v1/alerts/{alert_id}/suggestions"): OBJECT,
    **{("POST", f"/api/v1/alerts/{{alert_id}}/{action}"): OBJECT for action in Action},
    ("POST", "/api/v1/dispatch"): OBJECT,
    ("GET", "/api/v1/stream"): DISTRICT,
    ("GET", "/api/v1/reports/sla"): DISTRICT,
    ("GET", "/api/v1/residents/{resident_id}"): OBJECT,
    ("PUT", "/api/v1/residents/{resident_id}"): OBJECT,
    ("GET", "/api/v1/devices/health"): DISTRICT,
    ("GET", "/api/v1/devices/{device_id}/commands"): OBJECT,
    ("POST", "/api/v1/devices/{device_id}/commands"): OBJECT,
    ("GET", "/api/v1/requests"): DISTRICT,
    ("POST", "/api/v1/requests/{request_id}/{action}"): OBJECT,
    # the caller is the object: the session and who it is
    ("POST", "/api/v1/session"): "anyone (logging in)",
    ("DELETE", "/api/v1/session"): "the caller's own session",
    ("GET", "/api/v1/me"): "the caller",
    # the token in the path is the key: a signed responder link, a provider's callback
    ("GET", "/api/v1/links/{token}"): "signed link: one offer",
    ("POST", "/api/v1/links/{token}/{action}"): "signed link: one offer",
    ("POST", "/api/v1/sms/replies/aliyun/{token}"): "provider callback token",
    ("POST", "/api/v1/sms/replies/tencent/{token}"): "provider callback token",
    ("POST", "/api/v1/sms/receipts/aliyun/{token}"): "provider callback token",
    ("POST", "/api/v1/sms/receipts/tencent/{token}"): "provider callback token",
}


def test_every_route_of_the_api_has_its_scope_written_down() -> None:
    document = create_app(Settings(), ingest=False).openapi()
    routes = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert routes == set(SCOPES), (
        f"not in the table: {sorted(routes - set(SCOPES))};"
        f" in the table, gone from the API: {sorted(set(SCOPES) - routes)}"
    )


BODIES = {
    Action.NOTE: {"note": "x"},
    Action.CANCEL: {"note": "x"},
    Action.ASSIGN: {"service_point_id": "sp1"},
    Action.RESOLVE: {"outcome": "assisted", "note": "x"},
}


def test_an_object_of_another_district_is_not_there_on_every_route_that_takes_one(
    world: World, db: psycopg.Connection, database_url: str
) -> None:
    # a supervisor of 江岸区 (a role allowed every route); r2 lives in 武昌区, with its
    # incident, alert, watch and a help request (finished: a state that must not show
    # through either)
    limited = UserIn(name="sup_jiangan", role=Role.SUPERVISOR, districts=["江岸区"])
    token = run(database_url, lambda conn: add_user(conn=conn, user=limited))
    alert = world.alerts["r2"]
    (incident,) = db.execute("SELECT incident_id FROM alerts WHERE id = %s", (alert,)).fetchone()
    (request_id,) = db.execute(
        "INSERT INTO service_requests (key, requested_at, device_id, resident_id, service,"
        " status, closed_at) VALUES ('w2:h', now(), 'w2', 'r2', 'meal', 'cancelled', now())"
        " RETURNING id"
    ).fetchone()
    tried = {
        ("GET", "/api/v1/incidents/{incident_id}"): [
            ("GET", f"/api/v1/incidents/{incident}", None)
        ],
        ("GET", "/api/v1/alerts/{alert_id}"): [("GET", f"/api/v1/alerts/{alert}", None)],
        ("GET", "/api/v1/alerts/{alert_id}/suggestions"): [
            ("GET", f"/api/v1/alerts/{alert}/suggestions", None)
        ],
        **{("POST", f"/api/v1/alerts/{{alert_id}}/{action}"): [
            ("POST", f"/api/v1/alerts/{alert}/{action}", BODIES.get(action))
        ] for action in Action},
        ("POST", "/api/v1/dispatch"): [("POST", "/api/v1/dispatch", {"alert_ids": [alert]})],
        ("GET", "/api/v1/residents/{resident_id}"): [("GET", "/api/v1/residents/r2", None)],
        ("PUT", "/api/v1/residents/{resident_id}"): [
            ("PUT", "/api/v1/residents/r2", {"name": "改名"}),
            # taking another district's resident over into one's own
            ("PUT", "/api/v1/residents/r2", {"name": "改名", "district": "江岸区"}),
        ],
        ("GET", "/api/v1/devices/{device_id}/commands"): [
            ("GET", "/api/v1/devices/w2/commands", None)
        ],
        ("POST", "/api/v1/devices/{device_id}/commands"): [
            ("POST", "/api/v1/devices/w2/commands", {"command": "locate"})
        ],
        ("POST", "/api/v1/requests/{request_id}/{action}"): [
            ("POST", f"/api/v1/requests/{request_id}/{action}", None)
            for action in ("accept", "decline", "done", "cancel")
        ],
    }  # fmt: skip
    assert set(tried) == {route for route, scope in SCOPES.items() if scope == OBJECT}
    for route, requests in tried.items():
        for method, path, body in requests:
            answer = httpx.request(
                method, world.base + path, json=body, timeout=10,
                headers={"Authorization": f"Bearer {token}"},
            )  # fmt: skip
            assert answer.status_code == 404, (route, path, answer.status_code, answer.text)
    assert db.execute("SELECT name FROM residents WHERE id = 'r2'").fetchone() == ("李建国",)
    assert db.execute(
        "SELECT count(*) FROM alert_audit a JOIN alerts l ON l.incident_id = a.incident_id"
        " WHERE l.id = %s AND a.actor = 'sup_jiangan'",
        (alert,),
    ).fetchone() == (0,)
