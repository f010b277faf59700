"""The detector inside `anxin serve`: readings over MQTT become alerts in the database."""

import json
import math
import time
from typing import Any

import psycopg

from simulators.publisher import Publisher
from testbed.services import Mosquitto
from tests.anxin.test_cli import anxin
from tests.conftest import ServeProcess, wait_until


def resident_with(
    db: psycopg.Connection, rid: str, *devices: tuple[str, str, int], flags: tuple[str, ...] = ()
) -> None:
    """A resident and their devices as (id, kind, expected interval in seconds)."""
    db.execute(
        "INSERT INTO residents (id, name, flags) VALUES (%s, %s, %s)",
        (rid, f"Resident {rid}", list(flags)),
    )
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO devices (id, kind, resident_id, expected_interval_s)"
            " VALUES (%s, %s, %s, %s)",
            [(d, kind, rid, interval) for d, kind, interval in devices],
        )


def alerts(db: psycopg.Connection, rule: str | None = None) -> list[dict[str, Any]]:
    with db.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(
            "SELECT rule, severity, device_id, reason, observed_at FROM alerts"
            " WHERE %(rule)s::text IS NULL OR rule = %(rule)s ORDER BY id",
            {"rule": rule},
        )
        return cur.fetchall()


def publish(broker: Mosquitto, device: str, channel: str, *payloads: dict[str, Any]) -> None:
    with Publisher("127.0.0.1", broker.port, client_id=f"t-{time.monotonic_ns()}") as pub:
        for p in payloads:
            pub.publish(f"anxin/v1/{device}/{channel}", p, channel)


def test_low_spo2_from_a_watch_opens_one_news2_alert_with_a_readable_reason(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    resident_with(db, "r1", ("w1", "watch", 60))
    serve.start()
    start = time.time() - 300
    readings = [
        {"ts": start + 60 * k, "seq": k, "hr": 78, "spo2": 88, "temp": 36.8} for k in range(5)
    ]
    publish(broker, "w1", "vitals", *readings)
    wait_until(lambda: bool(alerts(db, "vitals_news2")), timeout=15, what="a NEWS2 alert")
    time.sleep(1.5)  # later readings of the same episode must not open more
    (alert,) = alerts(db, "vitals_news2")
    assert alert["severity"] == "P2"
    assert alert["device_id"] == "w1"
    assert "SpO2 88%" in alert["reason"]


def test_a_fall_cancelled_by_the_wearer_stays_as_a_p3_alert(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    resident_with(db, "r1", ("w1", "watch", 60))
    serve.start()
    now = time.time()
    publish(broker, "w1", "event", {"ts": now - 30, "type": "fall", "id": "f-1"})
    wait_until(lambda: bool(alerts(db, "fall")), timeout=10, what="the fall alert")
    assert alerts(db, "fall")[0]["severity"] == "P1"
    publish(broker, "w1", "event", {"ts": now, "type": "sos_cancel", "id": "c-1"})
    wait_until(lambda: alerts(db, "fall")[0]["severity"] == "P3", timeout=10, what="the downgrade")
    (fall,) = alerts(db, "fall")
    assert "cancelled by the wearer 30 s after the fall" in fall["reason"]


def test_a_silent_device_is_reported_offline_within_three_intervals_and_five_seconds(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    resident_with(db, "r1", ("w1", "watch", 2), ("w2", "watch", 2))
    serve.start()
    last = time.time()
    publish(broker, "w1", "status", {"ts": last, "online": True, "battery": 80})
    wait_until(lambda: bool(alerts(db, "offline")), timeout=30, what="the offline alert")
    (offline,) = alerts(db, "offline")
    assert offline["device_id"] == "w1"  # w2 was never heard from: nothing to lose track of
    assert offline["observed_at"].timestamp() - last <= 3 * 2 + 5
    assert "expected every 2 s" in offline["reason"]


def test_a_device_silent_across_a_restart_is_reported_after_it_and_baselines_are_kept(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    resident_with(db, "r1", ("w1", "watch", 8))
    serve.start()
    now = time.time()
    publish(
        broker,
        "w1",
        "vitals",
        *({"ts": now - 10 + k, "seq": k, "hr": 55, "spo2": 97} for k in range(5)),
    )
    wait_until(
        lambda: db.execute("SELECT count(*) FROM vitals").fetchone() == (5,),
        timeout=10,
        what="the readings",
    )
    serve.stop()  # a clean stop saves what the detector learned
    row = db.execute(
        "SELECT extract(epoch FROM last_seen), base_mean[1], base_n[1], base_mean[3]"
        " FROM detector_state WHERE device_id = 'w1'"
    ).fetchone()
    assert row is not None
    assert abs(float(row[0]) - (now - 6)) < 0.01
    assert (round(row[1]), row[2]) == (55, 5)
    assert math.isnan(row[3])  # no temperature yet: no baseline, not a baseline of 0
    assert not alerts(db, "offline")

    serve.start()
    # never heard from since the restart, and known to the new process only through
    # the saved state: reported three intervals after the start
    wait_until(lambda: bool(alerts(db, "offline")), timeout=60, what="offline after restart")
    assert "no message for" in alerts(db, "offline")[0]["reason"]


def test_an_override_set_while_running_takes_effect_without_a_restart(
    db: psycopg.Connection,
    broker: Mosquitto,
    serve: ServeProcess,
    anxin_env: dict[str, str],
) -> None:
    resident_with(db, "r1", ("w1", "watch", 60))
    serve.env["ANXIN_DETECTOR_REFRESH_S"] = "1"
    serve.start()
    now = time.time()
    publish(broker, "w1", "status", {"ts": now - 5, "online": True, "battery": 35})
    time.sleep(1.5)
    assert not alerts(db, "low_battery")  # 35% is fine at the default of 15%

    res = anxin("residents", "overrides", "r1", "low_battery_pct=40", env=anxin_env)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"low_battery_pct": 40}
    time.sleep(3)  # two refreshes
    publish(broker, "w1", "status", {"ts": now, "online": True, "battery": 34})
    wait_until(lambda: bool(alerts(db, "low_battery")), timeout=10, what="low battery alert")


def test_overrides_cli_shows_merges_and_refuses_bad_settings_in_one_line(
    db: psycopg.Connection, anxin_env: dict[str, str]
) -> None:
    resident_with(db, "r1")
    assert anxin("residents", "overrides", "r1", env=anxin_env).stdout.strip() == "{}"
    anxin("residents", "overrides", "r1", "bed_exit_min=45", "spo2_scale=2", env=anxin_env)
    res = anxin("residents", "overrides", "r1", "door_open_min=5", env=anxin_env)
    assert json.loads(res.stdout) == {"bed_exit_min": 45, "spo2_scale": 2, "door_open_min": 5}
    res = anxin("residents", "overrides", "r1", "spo2_scale=", env=anxin_env)
    assert json.loads(res.stdout) == {"bed_exit_min": 45, "door_open_min": 5}

    for bad, says in (
        ("bed_exit_min=2", "bed_exit_min"),
        ("bedtime=22", "bedtime"),
        ("home_radius_m=far", "home_radius_m"),
    ):
        res = anxin("residents", "overrides", "r1", bad, env=anxin_env)
        assert res.returncode == 1
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
        assert says in res.stderr
    res = anxin("residents", "overrides", "nobody", "bed_exit_min=45", env=anxin_env)
    assert res.returncode == 1
    assert "unknown resident 'nobody'" in res.stderr
    stored = db.execute("SELECT settings FROM resident_overrides WHERE resident_id = 'r1'")
    assert stored.fetchone() == ({"bed_exit_min": 45, "door_open_min": 5},)


def test_a_device_inserted_without_an_interval_takes_its_kinds_default(
    db: psycopg.Connection, serve: ServeProcess
) -> None:
    db.execute("INSERT INTO devices (id, kind) VALUES ('door1', 'door')")
    serve.start()  # the detector loads every device at start
    serve.stop()
    lines = serve.log().splitlines()
    loaded = [json.loads(line)["devices"] for line in lines if "detector loaded" in line]
    assert loaded == [1]
    row = db.execute("SELECT count(*) FROM detector_state").fetchone()
    assert row == (0,)  # never heard from: nothing to remember
