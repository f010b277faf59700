"""SLA figures: per priority and day from the API, and the same live on /metrics."""

import httpx
import psycopg
import pytest

from tests.api_world import World, call
from tests.conftest import wait_until

DAY = {"from": "2026-11-20T00:00:00+08:00", "to": "2026-11-21T00:00:00+08:00"}


def ack_and_place(world: World, db: psycopg.Connection, resident: str, after_s: int) -> None:
    """Acknowledge through the API, then put the incident on 2026-11-20 10:00 (Beijing)
    with its acknowledgement `after_s` later."""
    alert_id = world.alerts[resident]
    if resident != "r3":  # r3 was acknowledged and dispatched already
        assert call(world, "op", "POST", f"/api/v1/alerts/{alert_id}/ack").status_code == 200
    db.execute(
        "UPDATE incidents SET opened_at = '2026-11-20 10:00:00+08',"
        " acknowledged_at = timestamptz '2026-11-20 10:00:00+08' + make_interval(secs => %s),"
        " dispatched_at = CASE WHEN dispatched_at IS NULL THEN NULL"
        "   ELSE timestamptz '2026-11-20 10:05:00+08' END"
        " WHERE id = (SELECT incident_id FROM alerts WHERE id = %s)",
        (after_s, alert_id),
    )


def test_the_sla_report_gives_each_priority_and_day_its_figures(
    world: World, db: psycopg.Connection
) -> None:
    for resident, after_s in (("r1", 30), ("r2", 90), ("r3", 50)):
        ack_and_place(world, db, resident, after_s)
    resolve = {"note": "电话确认", "outcome": "false_alarm"}
    call(world, "op", "POST", f"/api/v1/alerts/{world.alerts['r1']}/resolve", json=resolve)
    resolve["outcome"] = "assisted"
    call(world, "op", "POST", f"/api/v1/alerts/{world.alerts['r2']}/resolve", json=resolve)

    report = call(world, "sup", "GET", "/api/v1/reports/sla", params=DAY)
    assert report.status_code == 200, report.text
    (day,) = report.json()["per_day"]
    assert (day["day"], day["priority"], day["incidents"]) == ("2026-11-20", "P1", 3)
    assert day["acknowledged_within_60s_share"] == 0.667
    assert day["acknowledged_median_s"] == 50
    assert day["acknowledged_p95_s"] == 86  # between 50 and 90, 90 % of the way
    assert day["dispatched_median_s"] == 300
    assert day["false_alarms"] == 1
    assert report.json()["false_alarms_per_rule"] == [
        {"rule": "sos", "resolved": 2, "false_alarm_share": 0.5}
    ]
    # a district-limited operator's report counts only their district (r1)
    (mine,) = call(world, "op_jiangan", "GET", "/api/v1/reports/sla", params=DAY).json()["per_day"]
    assert mine["incidents"] == 1
    for who in ("sp1", "carer"):
        assert call(world, who, "GET", "/api/v1/reports/sla", params=DAY).status_code == 403
    bad = call(world, "sup", "GET", "/api/v1/reports/sla", params={**DAY, "tz": "Mars/Olympus"})
    assert (bad.status_code, bad.json()["detail"]) == (
        422,
        "tz: unknown time zone 'Mars/Olympus' (e.g. Asia/Shanghai)",
    )
    unix = call(world, "sup", "GET", "/api/v1/reports/sla", params={"to": "0.5"})
    assert unix.status_code == 422  # not read as half a second after 1970
    assert [e["field"] for e in unix.json()["errors"]] == ["query.to"]
    backwards = call(world, "sup", "GET", "/api/v1/reports/sla",
                     params={"from": DAY["to"], "to": DAY["from"]})  # fmt: skip
    assert backwards.status_code == 422


def metric(base: str, line_start: str) -> float | None:
    for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    return None


def test_the_same_figures_are_live_on_metrics(world: World) -> None:
    base = world.base
    call(world, "op", "POST", f"/api/v1/alerts/{world.alerts['r1']}/ack")
    acked = 'anxin_incident_time_to_acknowledge_seconds_count{priority="P1"}'
    assert metric(base, acked) == 1
    # r2 open, r1 acknowledged, r3 dispatched: read from the database every 5 s
    active = 'anxin_incidents_active{{priority="P1",status="{}"}}'
    wait_until(lambda: metric(base, active.format("acknowledged")) == 1, timeout=8,
               what="the gauges")  # fmt: skip
    assert metric(base, active.format("open")) == 1
    assert metric(base, active.format("dispatched")) == 1
    oldest = metric(base, 'anxin_incident_oldest_unacknowledged_seconds{priority="P1"}')
    assert oldest is not None
    assert 0 < oldest < 120
    within = metric(base, 'anxin_incidents_acknowledged_within_60s_ratio{priority="P1"}')
    assert within == pytest.approx(2 / 3)
