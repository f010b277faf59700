"""Every request gets a clear answer: text the database cannot hold, numbers JSON does
not have and bodies over the limit are refused at the edge with the project's code and
the field named, nothing is written, no traceback is logged, and the same connection
serves the next request."""

import httpx
import psycopg
import pytest

from anxin.app import create_app
from anxin.settings import Settings
from tests.api_world import World, call
from tests.conftest import ServeProcess

NUL = "王\u0000英"


def refused(answer: httpx.Response, code: str, field: str) -> None:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["code"] == "invalid_request"
    assert [(e["code"], e["field"]) for e in body["errors"]] == [(code, field)]
    assert field in body["message"]  # the message names the field, in Chinese
    assert "王" not in answer.text  # nothing of the input is echoed back


def test_text_the_database_cannot_hold_is_refused_with_the_field_named(
    world: World, db: psycopg.Connection
) -> None:
    alert = world.alerts["r1"]
    resident = {"name": NUL}
    refused(call(world, "admin", "PUT", "/api/v1/residents/r2", json=resident),
            "nul_character", "body.name")  # fmt: skip
    refused(call(world, "op", "POST", f"/api/v1/alerts/{alert}/note", json={"note": NUL}),
            "nul_character", "body.note")  # fmt: skip
    refused(call(world, "op", "GET", "/api/v1/incidents", params={"district": NUL}),
            "nul_character", "query.district")  # fmt: skip
    refused(
        httpx.post(f"{world.base}/api/v1/session", json={"token": NUL}),
        "nul_character",
        "body.token",
    )  # fmt: skip  (no login needed to reach it)
    lone = b'{"note": "\\ud800\xe7\x8e\x8b"}'
    refused(call(world, "op", "POST", f"/api/v1/alerts/{alert}/note", content=lone,
                 headers={"Content-Type": "application/json"}),
            "lone_surrogate", "body.note")  # fmt: skip
    for number in (b"NaN", b"Infinity", b"-Infinity"):
        nan = b'{"service_point_id": "sp1", "x": %s, "y": "\xe7\x8e\x8b"}' % number
        refused(call(world, "op", "POST", f"/api/v1/alerts/{alert}/assign", content=nan,
                     headers={"Content-Type": "application/json"}),
                "not_finite", "body")  # fmt: skip
    broken = b'{"note": "\xff\xfe\xe7\x8e\x8b"}'
    refused(call(world, "op", "POST", f"/api/v1/alerts/{alert}/note", content=broken,
                 headers={"Content-Type": "application/json"}),
            "not_utf8", "body")  # fmt: skip
    deep = b'{"note": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    refused(call(world, "op", "POST", f"/api/v1/alerts/{alert}/note", content=deep,
                 headers={"Content-Type": "application/json"}),
            "too_deep", "body")  # fmt: skip
    assert db.execute("SELECT count(*) FROM alert_audit WHERE action = 'note'").fetchone() == (0,)
    assert db.execute("SELECT name FROM residents WHERE id = 'r2'").fetchone() == ("李建国",)


def test_an_outcome_on_any_action_but_resolve_is_refused_before_the_database_sees_it(
    world: World,
) -> None:
    alert = world.alerts["r1"]
    assert call(world, "op", "POST", f"/api/v1/alerts/{alert}/ack").status_code == 200
    answer = call(world, "op", "POST", f"/api/v1/alerts/{alert}/assign",
                  json={"outcome": "assisted"})  # fmt: skip
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_request")
    assert answer.json()["errors"][0]["field"] == "body.outcome"
    assert answer.json()["errors"][0]["code"] == "extra_forbidden"


@pytest.mark.parametrize("streamed", [False, True], ids=["by-length", "streamed"])
def test_a_body_over_the_limit_is_refused_before_it_is_read(world: World, streamed: bool) -> None:
    alert = world.alerts["r1"]
    big = b'{"note": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    url = f"{world.base}/api/v1/alerts/{alert}/note"
    headers = {"Authorization": f"Bearer {world.tokens['op']}",
               "Content-Type": "application/json"}  # fmt: skip
    content = (big[k : k + 65536] for k in range(0, len(big), 65536)) if streamed else big
    answer = httpx.post(url, content=content, headers=headers, timeout=10)
    assert answer.status_code == 413
    assert answer.json()["code"] == "body_too_large"
    assert len(answer.content) < 1024


def test_the_connection_serves_the_next_request_after_a_refusal_and_nothing_is_logged(
    world: World, serve: ServeProcess
) -> None:
    alert = world.alerts["r1"]
    headers = {"Authorization": f"Bearer {world.tokens['op']}"}
    with httpx.Client(base_url=world.base, headers=headers, timeout=10) as client:
        for _ in range(3):
            bad = client.post(f"/api/v1/alerts/{alert}/note", json={"note": NUL})
            assert bad.status_code == 422
            good = client.get("/api/v1/incidents")
            assert good.status_code == 200
    assert "Traceback" not in serve.log()


def test_the_openapi_document_gives_every_refusal_in_the_one_error_model() -> None:
    document = create_app(Settings(), ingest=False).openapi()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's own shape is not what we answer
    assert set(schemas["ErrorOut"]["required"]) == {"code", "message", "detail"}
    act = document["paths"]["/api/v1/alerts/{alert_id}/assign"]["post"]["responses"]
    assert set(act) == {"200", "401", "403", "404", "409", "413", "422"}
    for status, answer in act.items():
        if status != "200":
            schema = answer["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorOut"}
    login = document["paths"]["/api/v1/session"]["post"]["responses"]
    assert {"401", "413", "422"} <= set(login)


def test_a_method_a_resource_does_not_take_is_405_listing_every_one_it_does(
    world: World,
) -> None:
    for path, methods in [
        ("/api/v1/residents/r1", {"GET", "HEAD", "PUT"}),
        ("/api/v1/devices/w1/commands", {"GET", "HEAD", "POST"}),
        ("/api/v1/session", {"POST", "DELETE"}),
    ]:
        answer = call(world, "admin", "OPTIONS", path)
        assert answer.status_code == 405, path
        assert set(answer.headers["allow"].split(", ")) == methods, path
