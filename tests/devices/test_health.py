"""Maintenance tasks from what the devices stored (and did not): never connected, SOS
untested this week, a battery that will be empty within the week or says it is low;
visible through the API (in the user's district, in their language) and the CLI."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import psycopg

from tests.anxin.test_cli import anxin
from tests.conftest import ServeProcess

NOW = datetime.now(UTC)


def device(db: psycopg.Connection, device_id: str, kind: str, *, age_days: float) -> None:
    db.execute(
        "INSERT INTO devices (id, kind, resident_id, expected_interval_s, registered_at)"
        " VALUES (%s, %s, 'r1', 3600, %s)",
        (device_id, kind, NOW - timedelta(days=age_days)),
    )


def event(db: psycopg.Connection, device_id: str, kind: str, days_ago: float) -> None:
    db.execute(
        "INSERT INTO events (ts, device_id, type, event_key) VALUES (%s, %s, %s, %s)",
        (NOW - timedelta(days=days_ago), device_id, kind, f"{kind}-{days_ago}"),
    )


def battery(db: psycopg.Connection, device_id: str, levels: list[tuple[float, float]]) -> None:
    for days_ago, level in levels:
        db.execute(
            "INSERT INTO device_status (ts, device_id, battery) VALUES (%s, %s, %s)",
            (NOW - timedelta(days=days_ago), device_id, level),
        )


def test_devices_not_doing_their_job_are_listed_as_maintenance_tasks(
    db: psycopg.Connection, serve: ServeProcess, anxin_env: dict[str, str]
) -> None:
    db.execute("INSERT INTO residents (id, name, district) VALUES ('r1', '王秀英', '江岸区')")
    device(db, "never", "door", age_days=2)  # registered two days ago, never heard from
    device(db, "fresh", "door", age_days=0.1)  # registered today: not yet a task
    device(db, "btn-untested", "sos_button", age_days=30)
    event(db, "btn-untested", "sos", 9)
    device(db, "btn-tested", "sos_button", age_days=30)
    event(db, "btn-tested", "sos", 2)
    device(db, "w-drain", "watch", age_days=1)
    battery(db, "w-drain", [(3, 80), (2, 60), (1, 40), (0.01, 35)])  # 15 %/day: ~1.7 days
    device(db, "b-steady", "band", age_days=30)
    battery(db, "b-steady", [(2, 90), (1, 89), (0.01, 89)])
    device(db, "z-low", "door", age_days=30)
    event(db, "z-low", "battery_low", 1)
    serve.start()
    made = anxin("users", "add", "ops", "--role", "operator", env=anxin_env)
    token = made.stdout.strip().splitlines()[-1]
    url = f"{serve.base_url}/api/v1/devices/health"
    tasks = httpx.get(url, headers={"Authorization": f"Bearer {token}"}).json()
    assert [(t["device_id"], t["task"]) for t in tasks] == [
        ("btn-untested", "sos_untested"),
        ("never", "never_connected"),
        ("w-drain", "battery_draining"),
        ("z-low", "battery_low"),
    ]
    by_device = {t["device_id"]: t for t in tasks}
    assert "天内未做一键呼叫测试" in by_device["btn-untested"]["text"]
    assert 1.5 < by_device["w-drain"]["values"]["days_left"] < 2.0
    english = httpx.get(url, headers={"Authorization": f"Bearer {token}",
                                      "Accept-Language": "en"}).json()  # fmt: skip
    assert english[1]["text"].startswith("registered 48 h ago and never heard from")
    elsewhere = anxin("users", "add", "wc", "--role", "operator", "--district", "武昌区",
                      env=anxin_env)  # fmt: skip
    theirs = {"Authorization": f"Bearer {elsewhere.stdout.strip().splitlines()[-1]}"}
    assert httpx.get(url, headers=theirs).json() == []
    listed = anxin("devices", "health", env=anxin_env)
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.strip().splitlines()) == 4
    assert "每天下降 15.6%，约 1.6 天后耗尽" in listed.stdout
    shanghai = (NOW - timedelta(days=9)).astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"上次：{shanghai:%Y-%m-%d %H:%M}" in listed.stdout
