"""Service points and staff from a district's files: each bad row reported by line,
the good ones imported; opening hours as people write them."""

import json
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from dispatch.models import WeekHours
from tests.anxin.test_cli import anxin

POINTS_CSV = """id,name,kind,district,lat,lon,capabilities,hours,capacity
jiangan-c1,江岸区百步亭综合体,complex,江岸区,30.65,114.30,emergency;nursing;24h,,4
jiangan-s1,一元路站,station,江岸区,30.60,114.30,meal;cleaning,mon-fri 08:00-20:00; sat 09:00-12:00,2
bad-lat,坏坐标站,station,江岸区,95.0,114.30,meal,daily 08:00-18:00,2
bad-cap,坏能力站,station,江岸区,30.6,114.3,emergency;teleport,daily 08:00-18:00,2
jiangan-s1,重复站,station,江岸区,30.61,114.31,meal,daily 08:00-18:00,2
bad-hours,坏时间站,station,江岸区,30.6,114.3,meal,mon-fri 8-20,2
wuchang-h1,积玉桥卫生中心,health_centre,武昌区,30.56,114.31,medical;emergency,daily 07:30-21:00,3
"""


def test_a_points_csv_imports_the_good_rows_and_names_each_bad_one(
    anxin_env: dict[str, str], db: psycopg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "points.csv"
    path.write_text(POINTS_CSV, encoding="utf-8")
    done = anxin("import", "points", str(path), env=anxin_env)
    assert done.returncode == 1
    assert done.stdout.strip() == "imported 3 service points; 4 rows refused"
    problems = dict(line.split(": ", 1) for line in done.stderr.strip().splitlines())
    assert list(problems) == [f"{path}:{n}" for n in (4, 5, 6, 7)]
    assert problems[f"{path}:4"].startswith("lat: 应不大于 90")
    assert "capabilities.1" in problems[f"{path}:5"]
    assert problems[f"{path}:6"] == "编号 'jiangan-s1' 与第 3 行重复"
    assert "应为 HH:MM-HH:MM，收到 '8-20'" in problems[f"{path}:7"]
    rows = db.execute(
        "SELECT id, capabilities, capacity, hours IS NOT NULL FROM service_points ORDER BY id"
    ).fetchall()
    assert rows == [
        ("jiangan-c1", ["emergency", "nursing", "24h"], 4, False),
        ("jiangan-s1", ["meal", "cleaning"], 2, True),
        ("wuchang-h1", ["medical", "emergency"], 3, True),
    ]


def test_a_geojson_file_takes_longitude_first_and_names_bad_features_by_number(
    anxin_env: dict[str, str], db: psycopg.Connection, tmp_path: Path
) -> None:
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [114.27, 30.55]},
         "properties": {"id": "hanyang-s1", "name": "汉阳站", "kind": "station",
                        "capabilities": ["meal", "escort"], "hours": "daily 08:00-18:00"}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
         "properties": {"id": "road"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [114.2, 30.5]},
         "properties": {"id": "no-name", "kind": "station"}},
    ]  # fmt: skip
    path = tmp_path / "points.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    done = anxin("import", "points", str(path), env=anxin_env)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"{path}:2: not a Point feature",
        f"{path}:3: name: 必填",
    ]
    assert db.execute("SELECT lat, lon FROM service_points").fetchall() == [(30.55, 114.27)]
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "Feature"}')
    refused = anxin("import", "points", str(broken), env=anxin_env)
    assert (refused.returncode, refused.stderr.strip()) == (
        1,
        "anxin: expected a GeoJSON FeatureCollection",
    )


def test_staff_naming_an_unknown_point_are_refused_by_line(
    anxin_env: dict[str, str], db: psycopg.Connection, tmp_path: Path
) -> None:
    points = tmp_path / "points.csv"
    points.write_text(POINTS_CSV, encoding="utf-8")
    anxin("import", "points", str(points), env=anxin_env)
    staff = tmp_path / "staff.csv"
    staff.write_text(
        "id,point_id,name,phone,channels,shifts\n"
        "s1,jiangan-c1,李护士,13800001111,sms;wecom,daily 08:00-20:00\n"
        "s2,nowhere,王师傅,13800002222,sms,daily 08:00-20:00\n"
        "s3,jiangan-c1,赵师傅,13800003333,pager,daily 20:00-08:00\n",
        encoding="utf-8",
    )
    done = anxin("import", "staff", str(staff), env=anxin_env)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0] == f"{staff}:3: 没有服务点 'nowhere'"
    assert lines[1].startswith(f"{staff}:4: channels.0: 应为")
    assert db.execute("SELECT id, channels FROM service_point_staff").fetchall() == [
        ("s1", ["sms", "wecom"])
    ]


@pytest.mark.parametrize(
    ("spec", "when", "open_"),
    [
        ("mon-fri 08:00-20:00", "2026-11-23 08:00", True),  # a Monday
        ("mon-fri 08:00-20:00", "2026-11-23 20:00", False),
        ("mon-fri 08:00-20:00", "2026-11-28 10:00", False),  # Saturday
        ("sat,sun 09:00-12:00,14:00-17:00", "2026-11-29 15:30", True),
        ("sat,sun 09:00-12:00,14:00-17:00", "2026-11-29 13:00", False),
        ("daily 22:00-06:00", "2026-11-24 03:00", True),  # the night that began Monday
        ("fri-mon 10:00-11:00", "2026-11-29 10:30", True),  # wraps over the weekend
        ("fri-mon 10:00-11:00", "2026-11-25 10:30", False),
        ("24h", "2026-11-25 03:33", True),
    ],
)
def test_opening_hours_read_as_people_write_them(spec: str, when: str, open_: bool) -> None:
    assert WeekHours.parse(spec).open_at(datetime.fromisoformat(when)) is open_


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("someday 08:00-20:00", "unknown day 'someday'"),
        ("mon 25:00-26:00", "no such time"),
        ("mon", "no opening hours"),
    ],
)
def test_bad_hours_say_what_is_wrong(spec: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        WeekHours.parse(spec)
