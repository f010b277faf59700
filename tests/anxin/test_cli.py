"""The CLI as an operator meets it: one clear line for bad input, JSON for results."""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg

from testbed.services import Mosquitto, PostgresCluster, free_port, postgres_bindir
from tests.conftest import ServeProcess


def anxin(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anxin.cli", *args],
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_bad_setting_stops_startup_with_one_line() -> None:
    env = {**os.environ, "ANXIN_MQTT_URL": "http://broker", "ANXIN_HTTP_PORT": "eighty"}
    res = anxin("serve", env=env)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "ANXIN_MQTT_URL" in lines[0]
    assert "ANXIN_HTTP_PORT" in lines[0]


def test_db_init_reports_the_timescaledb_path(anxin_env: dict[str, str]) -> None:
    res = anxin("db", "init", env=anxin_env)
    assert res.returncode == 0, res.stderr
    assert "TimescaleDB 2." in res.stdout
    assert "hypertables" in res.stdout


def test_devices_add_registers_and_refuses_a_second_time(
    anxin_env: dict[str, str], db: psycopg.Connection
) -> None:
    assert anxin("residents", "add", "r1", "--name", "王秀英", env=anxin_env).returncode == 0
    res = anxin("devices", "add", "watch-1", "--kind", "watch", "--resident", "r1", env=anxin_env)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.splitlines()[0])["expected_interval_s"] == 60
    again = anxin("devices", "add", "watch-1", "--kind", "watch", env=anxin_env)
    assert again.returncode == 1
    assert again.stderr.strip() == "anxin: device 'watch-1' is already registered"
    orphan = anxin(
        "devices", "add", "watch-2", "--kind", "watch", "--resident", "nobody", env=anxin_env
    )
    assert orphan.stderr.strip() == "anxin: unknown resident 'nobody'"


def test_simulate_publishes_and_reports_per_channel(
    anxin_env: dict[str, str], broker: Mosquitto, db: psycopg.Connection
) -> None:
    res = anxin(
        "simulate",
        "--devices",
        "20",
        "--rate",
        "200",
        "--duration",
        "3",
        "--sos-per-min",
        "0",
        env=anxin_env,
    )
    assert res.returncode == 0, res.stderr
    published = json.loads(res.stdout.strip().splitlines()[-1])["published"]
    assert published["status"] == 20
    assert 500 <= published["vitals"] <= 600
    assert db.execute("SELECT count(*) FROM devices").fetchone() == (20,)


def test_residents_add_refuses_a_bad_id_latitude_or_flag_in_one_line(
    anxin_env: dict[str, str], db: psycopg.Connection
) -> None:
    for args, says in (
        (("bad id!", "--name", "x"), "id: does not match"),
        (("r1", "--name", "x", "--lat", "95"), "home_lat: must be at most 90"),
    ):
        res = anxin("residents", "add", *args, env=anxin_env)
        assert res.returncode == 2, res.stderr
        assert res.stderr.startswith(f"anxin: {says}"), res.stderr
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    typo = anxin("residents", "add", "r1", "--name", "x", "--flag", "dementa", env=anxin_env)
    assert typo.returncode == 2
    assert "invalid choice: 'dementa' (choose from 'dementia', 'hypercapnic')" in typo.stderr
    assert count_rows(db, "residents") == 0
    ok = anxin(
        "residents", "add", "r1", "--name", "王秀英", "--lat", "30.59", "--lon", "114.30",
        "--flag", "dementia", env=anxin_env,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    printed = json.loads(ok.stdout)
    assert {k: printed[k] for k in ("id", "name", "home_lat", "home_lon", "flags")} == {
        "id": "r1",
        "name": "王秀英",
        "home_lat": 30.59,
        "home_lon": 114.30,
        "flags": ["dementia"],
    }


def count_rows(db: psycopg.Connection, table: str) -> int:
    row = db.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def test_a_count_that_is_not_a_number_says_what_is_expected(anxin_env: dict[str, str]) -> None:
    res = anxin("simulate", "--devices", "ten", env=anxin_env)
    assert res.returncode == 2
    assert "--devices: expected a whole number of at least 1, got 'ten'" in res.stderr
    assert "_positive_int" not in res.stderr


def test_an_invalid_mqtt_url_is_reported_without_its_password() -> None:
    for url in ("mqtt://ingest:s3cret@broker:port", "http://ingest:s3cret@broker"):
        res = anxin("serve", env={**os.environ, "ANXIN_MQTT_URL": url})
        assert res.returncode == 2
        assert "ANXIN_MQTT_URL" in res.stderr
        assert "s3cret" not in res.stderr
        assert "ingest:***@broker" in res.stderr


def serve_on(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANXIN_DATABASE_URL": database_url, "ANXIN_HTTP_PORT": str(free_port())}
    # the pool's 30 s of retries before a traceback was what this replaced
    return anxin("serve", env=env, timeout=20)


def test_serve_without_a_database_server_says_so_in_one_line() -> None:
    port = free_port()
    res = serve_on(f"postgresql://anxin:s3cret@127.0.0.1:{port}/anxin")
    assert res.returncode == 1
    assert res.stderr.startswith(f"anxin: cannot reach the database at 127.0.0.1:{port}:")
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "s3cret" not in res.stderr


def test_serve_on_a_missing_database_says_how_to_create_it(pg_cluster: PostgresCluster) -> None:
    url = f"postgresql://{pg_cluster.user}:s3cret@127.0.0.1:{pg_cluster.port}/anxin_nowhere"
    res = serve_on(url)
    assert res.returncode == 1
    assert "database 'anxin_nowhere' does not exist" in res.stderr
    assert "createdb" in res.stderr
    assert "anxin db init" in res.stderr
    assert "s3cret" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_serve_on_a_database_without_the_schema_says_to_run_db_init(
    pg_cluster: PostgresCluster,
) -> None:
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS anxin_empty")
        conn.execute("CREATE DATABASE anxin_empty")
    res = serve_on(pg_cluster.dsn("anxin_empty"))
    assert res.returncode == 1
    assert res.stderr.strip().endswith("has no Anxin schema: run `anxin db init`")


def test_a_malformed_database_url_is_one_line_without_its_password() -> None:
    res = anxin("serve", env={**os.environ, "ANXIN_DATABASE_URL": "postgresql://u:s3cret@[db/x"})
    assert res.returncode == 2
    assert res.stderr.startswith("anxin: invalid setting ANXIN_DATABASE_URL: not a valid")
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "s3cret" not in res.stderr


def test_serve_with_a_travel_matrix_it_cannot_read_stops_in_one_line(
    anxin_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**anxin_env, "ANXIN_TRAVEL_MATRIX_FILE": str(tmp_path / "nowhere.csv")}
    res = anxin("serve", env=env)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f"anxin: travel matrix: cannot read '{tmp_path / 'nowhere.csv'}': no such file (ENOENT)"
    ]


def test_devices_import_makes_one_account_per_speaker_and_writes_passwords_once(
    anxin_env: dict[str, str], db: psycopg.Connection, tmp_path: Path
) -> None:
    assert anxin("residents", "add", "r1", "--name", "王秀英", env=anxin_env).returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,kind,protocol,name\nz-door,door,zigbee2mqtt,\nphone-1,phone,owntracks,wang\n"
    )
    refused = anxin("devices", "import", str(bad), "--passwords", str(tmp_path / "p0"),
                    env=anxin_env)  # fmt: skip
    assert refused.returncode == 1
    assert "bad.csv:2:" in refused.stderr
    assert "bad.csv:3:" in refused.stderr
    assert "user/device" in refused.stderr
    assert count_rows(db, "devices") == 0
    good = tmp_path / "devices.csv"
    good.write_text(
        "id,kind,protocol,name,account,resident_id\n"
        "z-door,door,zigbee2mqtt,home12/door,home12,r1\n"
        "z-sos,sos_button,zigbee2mqtt,home12/sos,home12,r1\n"
        "phone-1,phone,owntracks,wang/pixel,,r1\n"
        "w-1,watch,watch,,,\n"
    )
    nowhere = anxin("devices", "import", str(good), "--passwords",
                    str(tmp_path / "no-such-dir" / "p.csv"), env=anxin_env)  # fmt: skip
    assert nowhere.returncode == 1
    assert nowhere.stderr.startswith("anxin: cannot write")
    assert len(nowhere.stderr.strip().splitlines()) == 1
    assert count_rows(db, "devices") == 0  # no account made whose password went nowhere
    passwords = tmp_path / "passwords.csv"
    res = anxin("devices", "import", str(good), "--passwords", str(passwords), env=anxin_env)
    assert res.returncode == 0, res.stderr
    assert "imported 4 devices; 2 new MQTT accounts" in res.stdout
    assert passwords.stat().st_mode & 0o777 == 0o600
    accounts = [line.split(",")[0] for line in passwords.read_text().splitlines()[1:]]
    assert sorted(accounts) == ["home12", "phone-1"]  # the watch's gateway speaks for it
    again = anxin("devices", "import", str(good), "--passwords", str(passwords), env=anxin_env)
    assert again.returncode == 1
    assert "never written over" in again.stderr
    same_name = anxin("devices", "add", "z-door-2", "--kind", "door", "--protocol",
                      "zigbee2mqtt", "--name", "home12/door", env=anxin_env)  # fmt: skip
    assert same_name.stderr.strip() == (
        "anxin: another zigbee2mqtt device is already named 'home12/door'"
    )
    with_account = {**anxin_env, "ANXIN_MQTT_URL": "mqtt://anxin:secret@127.0.0.1:1883"}
    unwritable = anxin("devices", "export-mosquitto", "--out", "/proc/anxin", env=with_account)
    assert unwritable.returncode == 1
    assert unwritable.stderr.startswith("anxin: cannot prepare '/proc/anxin' for the broker"), (
        unwritable.stderr
    )
    bound = anxin("devices", "bind", "w-1", "--resident", "r1", env=anxin_env)
    assert json.loads(bound.stdout)["resident_id"] == "r1"
    unbound = anxin("devices", "bind", "z-door", "--unbind", env=anxin_env)
    assert json.loads(unbound.stdout)["resident_id"] is None
    nobody = anxin("devices", "bind", "w-1", "--resident", "nobody", env=anxin_env)
    assert nobody.stderr.strip() == "anxin: unknown resident 'nobody'"


def test_a_config_file_that_is_not_toml_or_names_an_unknown_key_is_one_line(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANXIN_")}
    broken = tmp_path / "broken.toml"
    broken.write_text('http_port = 8080\ndatabase_url = "postgresql://x\n', encoding="utf-8")
    typo = tmp_path / "typo.toml"
    typo.write_text('mqtt_urll = "mqtt://broker:1883"\n', encoding="utf-8")
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("http_port = 99999\n", encoding="utf-8")
    for path, line in [
        (broken, f"anxin: config file '{broken}' is not valid TOML at line 2, column 31"),
        (typo, f"anxin: config file '{typo}': unknown key 'mqtt_urll'; did you mean 'mqtt_url'?"),
        (wrong, f"anxin: invalid setting http_port in {wrong}: must be at most 65535"),
    ]:
        res = anxin("--config", str(path), "serve", env=env)
        assert (res.returncode, res.stderr.strip().splitlines()) == (2, [line])


def test_db_init_on_a_server_with_timescaledb_installed_but_not_preloaded_says_how(
    tmp_path: Path,
) -> None:
    bindir = postgres_bindir()
    assert bindir is not None
    cluster = PostgresCluster(datadir=tmp_path / "pg", bindir=bindir, timescaledb=False).start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANXIN_")}
        env["ANXIN_DATABASE_URL"] = cluster.dsn()
        res = anxin("db", "init", env=env)
        assert res.returncode == 0, res.stderr
        assert "TimescaleDB is installed but not preloaded" in res.stdout
        assert "shared_preload_libraries = 'timescaledb'" in res.stdout
    finally:
        cluster.stop()


def test_a_users_token_can_be_rotated_and_the_user_disabled_and_enabled(
    anxin_env: dict[str, str], serve: ServeProcess
) -> None:
    first = anxin("users", "add", "zhang", "--role", "operator", env=anxin_env)
    old = first.stdout.strip().splitlines()[-1]
    serve.start()

    def status(token: str) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.get(f"{serve.base_url}/api/v1/incidents", headers=headers).status_code

    assert status(old) == 200
    rotated = anxin("users", "rotate", "zhang", env=anxin_env)
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.strip().splitlines()[-1]
    assert (status(old), status(new)) == (401, 200)  # the old one stops at once
    assert anxin("users", "disable", "zhang", env=anxin_env).stdout.strip() == "user zhang disabled"
    assert status(new) == 401
    listed = [
        json.loads(line)
        for line in anxin("users", "list", env=anxin_env).stdout.split("\n")
        if line
    ]
    assert listed == [
        {"name": "zhang", "role": "operator", "districts": [], "service_point_id": None,
         "disabled": True}
    ]  # fmt: skip
    anxin("users", "enable", "zhang", env=anxin_env)
    assert status(new) == 200
    nobody = anxin("users", "rotate", "nobody", env=anxin_env)
    assert (nobody.returncode, nobody.stderr.strip()) == (1, "anxin: no user 'nobody'")
