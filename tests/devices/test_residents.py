"""Who the resident is: the CLI and the API read and write the profile an operator
needs on the phone; an import reports each bad row by line and keeps the good ones."""

import json
from pathlib import Path

import httpx
import psycopg

from tests.anxin.test_cli import anxin
from tests.api_world import World, call


def test_residents_add_and_show_keep_the_whole_profile_and_contacts_in_order(
    anxin_env: dict[str, str], db: psycopg.Connection
) -> None:
    added = anxin(
        "residents", "add", "r1", "--name", "王秀英", "--phone", "027-8280-1234",
        "--birth-date", "1941-03-08", "--district", "江岸区", "--community", "一元社区",
        "--address", "胜利街 12 号 3 楼", "--medical-notes", "高血压，房颤，服华法林",
        "--allergies", "青霉素", "--mobility", "助行器", "--access-notes", "钥匙箱 4711",
        "--language", "武汉话",
        "--contact", "王敏,女儿,13800000001", "--contact", "刘阿姨,邻居,13900000002,no-sms",
        env=anxin_env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    # a later add changes what it is given and keeps the rest
    assert anxin("residents", "add", "r1", "--phone", "13312345678", env=anxin_env).returncode == 0
    shown = anxin("residents", "show", "r1", env=anxin_env)
    assert shown.returncode == 0, shown.stderr
    profile = json.loads(shown.stdout)
    assert profile["phone"] == "13312345678"
    assert profile["access_notes"] == "钥匙箱 4711"
    assert profile["birth_date"] == "1941-03-08"
    assert profile["contacts"] == [
        {"name": "王敏", "relation": "女儿", "phone": "13800000001", "sms": True},
        {"name": "刘阿姨", "relation": "邻居", "phone": "13900000002", "sms": False},
    ]
    missing = anxin("residents", "show", "nobody", env=anxin_env)
    assert (missing.returncode, missing.stderr.strip()) == (1, "anxin: unknown resident 'nobody'")
    bad = anxin("residents", "add", "r2", "--name", "x", "--contact", "only-a-name", env=anxin_env)
    assert bad.returncode == 2
    assert "expected NAME,RELATION,PHONE" in bad.stderr


CSV = """id,name,phone,district,home_lat,home_lon,flags,\
contact1_name,contact1_relation,contact1_phone,contact1_sms
r1,王秀英,13800000000,江岸区,30.6,114.3,dementia,王敏,女儿,13800000001,是
r2,李建国,not-a-phone,武昌区,,,,,,,
r3,张桂兰,13800000003,武昌区,95,114.3,,,,,
r4,赵德明,13800000004,江汉区,,,dementa,,,,
r1,王秀英,13800000000,江岸区,,,,,,,
r5,孙玉珍,13800000005,洪山区,,,,孙强,儿子,13800000015,maybe
r6,周淑芬,,汉阳区,30.55,114.27,hypercapnic;dementia,周华,儿子,+86 139 0000 0006,否
"""


def test_an_import_reports_each_bad_row_by_line_and_imports_the_good_ones(
    anxin_env: dict[str, str], db: psycopg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "residents.csv"
    path.write_text(CSV, encoding="utf-8")
    done = anxin("residents", "import", str(path), env=anxin_env)
    assert done.returncode == 1
    assert done.stdout.strip() == "imported 2 residents; 5 rows refused"
    problems = [line.split(": ", 1) for line in done.stderr.strip().splitlines()]
    assert [p[0] for p in problems] == [f"{path}:{n}" for n in (3, 4, 5, 6, 7)]
    assert "phone" in problems[0][1]
    assert "home_lat" in problems[1][1]
    assert "flags.0" in problems[2][1]
    assert problems[3][1] == "编号 'r1' 与第 2 行重复"
    assert problems[4][1] == "contact1_sms: 应为 yes 或 no，收到 'maybe'"
    rows = db.execute("SELECT id, flags FROM residents ORDER BY id").fetchall()
    assert rows == [("r1", ["dementia"]), ("r6", ["hypercapnic", "dementia"])]
    contacts = db.execute("SELECT resident_id, phone, sms FROM resident_contacts ORDER BY 1")
    assert contacts.fetchall() == [("r1", "13800000001", True), ("r6", "+86 139 0000 0006", False)]


def test_a_json_lines_import_names_the_line_of_each_bad_record(
    anxin_env: dict[str, str], db: psycopg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "residents.jsonl"
    path.write_text(
        '{"id": "r1", "name": "王秀英", "contacts": [{"name": "王敏", "phone": "13800000001"}]}\n'
        "{not json\n"
        '{"id": "r2", "name": "李建国", "shoe_size": 42}\n',
        encoding="utf-8",
    )
    done = anxin("residents", "import", str(path), env=anxin_env)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0] == f"{path}:2: 不是有效的 JSON（第 2 列）"
    assert lines[1] == f"{path}:3: shoe_size: 不是可用的字段"
    assert db.execute("SELECT id FROM residents").fetchall() == [("r1",)]
    header = tmp_path / "wrong.csv"
    header.write_text("id,name,shoe_size\nr9,x,42\n")
    wrong = anxin("residents", "import", str(header), env=anxin_env)
    assert wrong.returncode == 1
    assert wrong.stderr.strip().startswith(
        "anxin: unknown CSV columns: shoe_size; the columns are:"
    )
    for column in ("id", "name", "address", "contact1_phone"):  # the valid ones, listed
        assert column in wrong.stderr


def test_the_api_shows_a_resident_to_those_who_may_see_them_and_lets_admins_edit(
    world: World,
) -> None:
    seen = {
        who: call(world, who, "GET", "/api/v1/residents/r1").status_code for who in world.tokens
    }
    assert seen == {
        "op": 200, "op_jiangan": 200, "sup": 200, "admin": 200, "sp1": 404, "carer": 200,
    }  # fmt: skip
    assert call(world, "op_jiangan", "GET", "/api/v1/residents/r2").status_code == 404
    assert call(world, "carer", "GET", "/api/v1/residents/r2").status_code == 404
    body = {
        "name": "李建国",
        "district": "武昌区",
        "access_notes": "门卫有钥匙",
        "contacts": [{"name": "李娜", "relation": "女儿", "phone": "13700000002"}],
    }
    edits = {
        who: call(world, who, "PUT", "/api/v1/residents/r2", json=body).status_code
        for who in world.tokens
    }
    assert edits == {
        "op": 403, "op_jiangan": 403, "sup": 200, "admin": 200, "sp1": 403, "carer": 403,
    }  # fmt: skip
    got = call(world, "op", "GET", "/api/v1/residents/r2").json()
    assert got["access_notes"] == "门卫有钥匙"
    assert got["contacts"][0]["phone"] == "13700000002"
    # the path names whom: an id in the body is a field the body does not have
    wrong = call(world, "admin", "PUT", "/api/v1/residents/r2", json={**body, "id": "r3"})
    assert (wrong.status_code, wrong.json()["errors"][0]["field"]) == (422, "body.id")
    bad_phone = call(
        world, "admin", "PUT", "/api/v1/residents/r2",
        json={**body, "contacts": [{"name": "x", "phone": "call me"}]},
    )  # fmt: skip
    assert bad_phone.status_code == 422
    assert "phone" in bad_phone.text
    assert httpx.get(f"{world.base}/api/v1/residents/r1", timeout=5).status_code == 401


def test_a_csv_saved_by_excel_in_china_gbk_or_utf8_with_bom_is_read(
    anxin_env: dict[str, str], db: psycopg.Connection, tmp_path: Path
) -> None:
    text = "id,name,district,address\nr1,王秀英,江岸区,胜利街 12 号\n"
    (tmp_path / "gbk.csv").write_bytes(text.encode("gbk"))
    (tmp_path / "bom.csv").write_bytes(text.replace("r1", "r2").encode("utf-8-sig"))
    for name in ("gbk.csv", "bom.csv"):
        done = anxin("residents", "import", str(tmp_path / name), env=anxin_env)
        assert (done.returncode, done.stdout.strip()) == (0, "imported 1 residents; 0 rows refused")
    rows = db.execute("SELECT id, name, district, address FROM residents ORDER BY id").fetchall()
    assert rows == [
        ("r1", "王秀英", "江岸区", "胜利街 12 号"),
        ("r2", "王秀英", "江岸区", "胜利街 12 号"),
    ]
