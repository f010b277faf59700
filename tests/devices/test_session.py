"""The dashboard's session: a token becomes an HttpOnly cookie; a change made with
the cookie must carry the page's own header, so another site cannot make one."""

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.api_world import World


@contextmanager
def logged_in(world: World, who: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.base, timeout=10) as client:
        answer = client.post("/api/v1/session", json={"token": world.tokens[who]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["role"] == "operator"
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie, cookie  # the page's script never holds the token
        assert "SameSite=strict" in cookie, cookie
        yield client


def test_a_token_logs_in_and_the_cookie_reads_the_queue(world: World) -> None:
    with logged_in(world, "op") as browser:
        assert browser.get("/api/v1/me").json()["name"] == "op"
        assert len(browser.get("/api/v1/incidents").json()["items"]) == 3


def test_a_wrong_token_is_refused_with_a_reason_and_sets_no_cookie(world: World) -> None:
    answer = httpx.post(f"{world.base}/api/v1/session", json={"token": "anx_x_y"}, timeout=10)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "unknown or revoked token"
    assert "set-cookie" not in answer.headers


def test_a_change_with_the_cookie_needs_the_pages_header(world: World) -> None:
    alert = world.alerts["r1"]
    with logged_in(world, "op") as browser:
        forged = browser.post(f"/api/v1/alerts/{alert}/ack")  # what another site's form sends
        assert forged.status_code == 403
        assert "X-Anxin-Request" in forged.json()["detail"]
        ours = browser.post(f"/api/v1/alerts/{alert}/ack", headers={"X-Anxin-Request": "1"})
        assert ours.status_code == 200, ours.text


def test_logging_out_ends_the_session(world: World) -> None:
    with logged_in(world, "op") as browser:
        assert browser.delete("/api/v1/session").status_code == 204
        assert browser.get("/api/v1/me").status_code == 401


def test_one_incident_reads_as_its_queue_row_and_the_map_places_it(world: World) -> None:
    with logged_in(world, "op") as browser:
        (row,) = [i for i in browser.get("/api/v1/incidents").json()["items"]
                  if i["resident_id"] == "r3"]  # fmt: skip
        one = browser.get(f"/api/v1/incidents/{row['id']}").json()
        assert one["status_text"] == "已派单"
        assert one["last_action"] == "accept"  # what was done to it last, and when
        assert {k: one[k] for k in ("id", "status", "service_point_id")} == {
            "id": row["id"], "status": "dispatched", "service_point_id": "sp2"}  # fmt: skip
        assert browser.get("/api/v1/incidents/999999").status_code == 404
        drawn = browser.get("/api/v1/map").json()
        (sp2,) = [p for p in drawn["points"] if p["id"] == "sp2"]
        assert (sp2["name"], sp2["load"]) == ("积玉桥站", 1)
        assert {i["id"] for i in drawn["incidents"]} >= {row["id"]}
