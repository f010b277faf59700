"""Suggestions for an incident from the real database: the nearest point that can
help now, with why each nearer one was skipped (closed, full, lacking the capability),
and with none inside the circle, the best outside it and a prompt to call 120."""

import psycopg

from tests.api_world import World, call

STAFF = (
    "INSERT INTO service_point_staff (id, point_id, name, phone, shifts) VALUES"
    " ('n1', 'sp1', '李护士', '13800001111', %(always)s),"
    " ('n2', 'sp2', '王护士', '13800002222', %(always)s),"
    " ('n3', 'sp2', '赵师傅', '13800003333', %(always)s)"
)
ALWAYS = (
    '{"days": [[[0, 1440]], [[0, 1440]], [[0, 1440]], [[0, 1440]], [[0, 1440]],'
    " [[0, 1440]], [[0, 1440]]]}"
)


def ready(db: psycopg.Connection) -> None:
    """r1 lives 0.5 km from sp1 and 1.1 km from sp2; both points can send someone now
    (sp2 has two people on shift, one of them out on r3's incident)."""
    db.execute("UPDATE residents SET home_lat = 30.6045, home_lon = 114.3000 WHERE id = 'r1'")
    db.execute("UPDATE service_points SET lat = 30.595, lon = 114.305 WHERE id = 'sp2'")
    db.execute("UPDATE service_points SET capabilities = '{emergency,nursing,24h}', capacity = 2")
    db.execute(STAFF, {"always": ALWAYS})


def suggest(world: World, who: str = "op") -> dict:  # type: ignore[type-arg]
    answer = call(world, who, "GET", f"/api/v1/alerts/{world.alerts['r1']}/suggestions")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_the_nearest_point_that_can_help_now_is_suggested(
    world: World, db: psycopg.Connection
) -> None:
    ready(db)
    found = suggest(world)
    assert found["from"] == "home"
    assert found["needs"] == ["emergency", "nursing"]
    assert found["best"]["point_id"] == "sp1"
    assert found["best"]["minutes"] < 5
    assert found["call_120"] is False


def test_closed_full_and_incapable_points_are_skipped_with_their_reason(
    world: World, db: psycopg.Connection
) -> None:
    ready(db)
    db.execute("UPDATE service_points SET capabilities = '{emergency}', hours = NULL"
               " WHERE id = 'sp1'")  # fmt: skip
    closed = suggest(world)
    assert [(c["point_id"], c["skipped"]) for c in closed["considered"]] == [
        ("sp1", "closed"),
        ("sp2", None),
    ]
    # sp2 already has r3's incident on its hands; with capacity 1 it is full
    db.execute("UPDATE service_points SET capabilities = '{meal,24h}' WHERE id = 'sp1'")
    db.execute("UPDATE service_points SET capacity = 1 WHERE id = 'sp2'")
    full = suggest(world)
    assert [(c["point_id"], c["skipped"]) for c in full["considered"]] == [
        ("sp1", "lacks_capability"),
        ("sp2", "at_capacity"),
    ]
    assert full["best"] is None


def test_with_nobody_inside_the_circle_the_best_outside_and_a_120_prompt_come_back(
    world: World, db: psycopg.Connection
) -> None:
    ready(db)
    db.execute("UPDATE service_points SET lat = lat + 0.2")  # 22 km north: an hour away
    found = suggest(world)
    assert found["best"] is None
    assert found["outside"]["point_id"] == "sp2"  # the nearer of the two, 21 km
    assert found["outside"]["minutes"] > 15
    assert found["call_120"] is True  # an SOS is P1


def test_suggestions_need_a_place_and_a_dispatching_role(
    world: World, db: psycopg.Connection
) -> None:
    answer = call(world, "op", "GET", f"/api/v1/alerts/{world.alerts['r1']}/suggestions")
    assert answer.status_code == 409
    assert "no home on record" in answer.json()["detail"]
    ready(db)
    for who in ("sp1", "carer"):
        path = f"/api/v1/alerts/{world.alerts['r1']}/suggestions"
        assert call(world, who, "GET", path).status_code == 403
    assert call(world, "op", "GET", "/api/v1/alerts/999999/suggestions").status_code == 404
