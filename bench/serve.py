"""What every benchmark starts: its own PostgreSQL (TimescaleDB when installed) with the
schema and the devices it publishes for, its own Mosquitto, and `anxin serve` as a
child process."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from anxin.db import schema_sql
from testbed.services import Mosquitto, PostgresCluster, postgres_bindir, timescaledb_available


def start_services(work: Path, devices: list[tuple[str, str]]) -> tuple[PostgresCluster, Mosquitto]:
    """A database (schema applied, `devices` registered as (id, kind)) and a broker
    with the project's config, both in `work`."""
    bindir = postgres_bindir()
    assert bindir, "no PostgreSQL server binaries"
    pg = PostgresCluster(
        datadir=work / "pg", bindir=bindir, timescaledb=timescaledb_available(bindir)
    ).start()
    broker = Mosquitto(workdir=work / "mq", executable=Mosquitto.find() or "mosquitto").start()
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(schema_sql())  # type: ignore[arg-type]
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO devices (id, kind) VALUES (%s, %s)", devices)
    return pg, broker


def serve_env(*, dsn: str, mqtt_url: str, http_port: int, client_id: str) -> dict[str, str]:
    """This process's environment without its ANXIN_ settings, plus the bench's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANXIN_")}
    env.update(
        {
            "ANXIN_DATABASE_URL": dsn,
            "ANXIN_MQTT_URL": mqtt_url,
            "ANXIN_HTTP_PORT": str(http_port),
            "ANXIN_MQTT_CLIENT_ID": client_id,
            "ANXIN_LOG_LEVEL": "WARNING",
        }
    )
    return env


def start_serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start it and wait until /readyz answers 200 (30 s at most)."""
    out = log.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "anxin.cli", "serve"], env=env, stdout=out, stderr=out
    )
    ready = f"http://127.0.0.1:{env['ANXIN_HTTP_PORT']}/readyz"
    for _ in range(300):
        try:
            if httpx.get(ready, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(log.read_text()[-2000:])


def stop_serve(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
