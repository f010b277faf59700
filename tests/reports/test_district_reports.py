"""The district's reports, from the real CLI against a real database: coverage hour by
hour of the week (who is outside the circle, and when) and the home care beds of a
month (met or not, and why)."""

import csv
import io
from pathlib import Path

import psycopg

from tests.anxin.test_cli import anxin
from tests.conftest import register

KM_LAT = 1 / 111.2


def points(db: psycopg.Connection) -> None:
    """A 24-hour complex with emergency care beside r1, and a day station (nursing,
    08:00-20:00) beside r2, 10 km from the complex; r3 lives 30 km out."""
    db.execute(
        "INSERT INTO residents (id, name, district, home_lat, home_lon) VALUES"
        " ('r1', '王秀英', '江岸区', 30.60, 114.30),"
        " ('r2', '李建国', '武昌区', %s, 114.30),"
        " ('r3', '张桂兰', '新洲区', %s, 114.30)",
        (30.60 + 10 * KM_LAT, 30.60 + 30 * KM_LAT),
    )
    every_day = '{"days": [[[0, 1440]], [[0, 1440]], [[0, 1440]], [[0, 1440]], [[0, 1440]], [[0, 1440]], [[0, 1440]]]}'  # noqa: E501
    daytime = '{"days": [[[480, 1200]], [[480, 1200]], [[480, 1200]], [[480, 1200]], [[480, 1200]], [[480, 1200]], [[480, 1200]]]}'  # noqa: E501
    db.execute(
        "INSERT INTO service_points (id, name, kind, lat, lon, capabilities, hours) VALUES"
        " ('c1', '综合体', 'complex', 30.601, 114.30, '{emergency,24h}', NULL),"
        " ('s1', '服务站', 'station', %s, 114.30, '{nursing}', %s)",
        (30.60 + 10.2 * KM_LAT, daytime),
    )
    db.execute(
        "INSERT INTO service_point_staff (id, point_id, name, phone, shifts) VALUES"
        " ('n1', 'c1', '李护士', '13800001111', %s), ('n2', 's1', '王护士', '13800002222', %s)",
        (every_day, daytime),
    )


def rows(path: Path) -> dict[str, dict[str, str]]:
    return {r[next(iter(r))]: r for r in csv.DictReader(io.StringIO(path.read_text()))}


def test_coverage_names_who_is_outside_the_circle_and_at_which_hours(
    db: psycopg.Connection, anxin_env: dict[str, str], tmp_path: Path
) -> None:
    points(db)
    done = anxin("report", "coverage", "--out", str(tmp_path), env=anxin_env)
    assert done.returncode == 0, done.stderr
    assert "3 residents, 2 points: 2 outside" in done.stdout
    found = rows(tmp_path / "coverage.csv")
    assert found["r1"]["hours_outside"] == "0"
    assert float(found["r1"]["worst_min"]) < 1
    # only the station is near r2, and only by day: every night of the week outside
    assert found["r2"]["hours_outside"] == str(7 * 12)
    assert found["r2"]["when_outside"].startswith("周一 00:00-周一 08:00, 周一 20:00-周二 08:00")
    # at night the complex, 10 km away: 10 x 1.4 / 15 km/h = 56 min
    assert 50 < float(found["r2"]["worst_min"]) < 60
    assert found["r3"]["when_outside"] == "全周"
    page = (tmp_path / "coverage.html").read_text()
    assert page.count("<svg") == 2  # the map and the histogram
    assert "服务圈外的居民及时段 (2)" in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched
    assert (tmp_path / "coverage-map.svg").read_text().startswith("<svg")
    english = anxin("report", "coverage", "--lang", "en", "--out", str(tmp_path), env=anxin_env)
    assert english.returncode == 0, english.stderr
    assert rows(tmp_path / "coverage.csv")["r2"]["when_outside"].startswith("Mon 00:00-Mon 08:00")


def test_care_beds_are_judged_per_month_with_the_reason_for_each_bed_not_met(
    db: psycopg.Connection, anxin_env: dict[str, str], tmp_path: Path
) -> None:
    points(db)
    register(db, "w1", "w2")
    db.execute("UPDATE devices SET resident_id = 'r' || substr(id, 2),"
               " registered_at = '2026-09-01 00:00+08'")  # fmt: skip
    # October 2026 in Wuhan: w1 heard every hour, w2 only the first half of the month
    db.execute(
        "INSERT INTO vitals (ts, device_id, hr) SELECT t, 'w1', 70 FROM generate_series("
        "'2026-10-01 00:10+08'::timestamptz, '2026-10-31 23:10+08', '1 hour') t"
    )
    db.execute(
        "INSERT INTO vitals (ts, device_id, hr) SELECT t, 'w2', 70 FROM generate_series("
        "'2026-10-01 00:10+08'::timestamptz, '2026-10-16 00:00+08', '1 hour') t"
    )
    db.execute(
        "INSERT INTO incidents (subject, resident_id, device_id, severity, status, opened_at,"
        " acknowledged_at, on_scene_at, closed_at, outcome) VALUES"
        " ('r1', 'r1', 'w1', 'P1', 'resolved', '2026-10-05 10:00+08', '2026-10-05 10:00:30+08',"
        "  '2026-10-05 10:12+08', '2026-10-05 11:00+08', 'assisted'),"
        " ('r2', 'r2', 'w2', 'P1', 'resolved', '2026-10-06 10:00+08', '2026-10-06 10:02+08',"
        "  NULL, '2026-10-06 10:30+08', 'false_alarm')"
    )
    done = anxin("report", "care-beds", "--month", "2026-10", "--out", str(tmp_path), env=anxin_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("2 beds, 1 met the standard")
    beds = rows(tmp_path / "care-beds-2026-10.csv")
    assert (beds["r1"]["online_share"], beds["r1"]["met"], beds["r1"]["unmet"]) == (
        "1.000", "yes", ""
    )  # fmt: skip
    assert beds["r1"]["median_ack_s"] == "30"
    assert beds["r2"]["met"] == "no"
    assert beds["r2"]["unmet"] == (
        "设备在线率 48% 低于 90%; 1 个P1未在 60 秒内受理; 上门 0 次，少于 1 次"
    )
    page = (tmp_path / "care-beds-2026-10.html").read_text()
    assert "床位 2，达标 1，补贴合计 300 元" in page
    assert "@media print" in page


def test_a_bad_month_or_share_stops_with_one_line(anxin_env: dict[str, str]) -> None:
    for args, says in (
        (["--month", "2026-13"], "expected a month as YYYY-MM"),
        (["--month", "2026-10", "--min-online", "90"], "expected a share from 0 to 1"),
    ):
        done = anxin("report", "care-beds", *args, env=anxin_env)
        assert done.returncode == 2
        assert says in done.stderr
        assert "Traceback" not in done.stderr
    future = anxin("report", "care-beds", "--month", "2099-01", env=anxin_env)
    assert (future.returncode, future.stderr.strip()) == (1, "anxin: 2099-01 has not begun")
