"""Real services for the tests: a PostgreSQL cluster (TimescaleDB preloaded where
installed) and a Mosquitto with the project's config, both on free loopback ports.

A missing service is a failure, not a skip.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from anxin.db import schema_sql
from testbed.services import (
    Mosquitto,
    PostgresCluster,
    free_port,
    postgres_bindir,
    timescaledb_available,
)

# the running service with a user of every role, for the API tests of each domain
pytest_plugins = ["tests.api_world"]

DATA_TABLES = (
    "vitals",
    "events",
    "locations",
    "device_status",
    "alerts",
    "incidents",
    "users",
    "resident_contacts",
    "dead_letters",
    "devices",
    "mqtt_accounts",
    "device_commands",
    "residents",
    "service_points",
    "dispatch_offers",
    "service_requests",
    "webhooks",
    "chat_bots",
    "app_secrets",
    "outbox",
    "outbox_attempts",
    "service_point_staff",
)


@pytest.fixture(scope="session")
def pg_bindir() -> Path:
    bindir = postgres_bindir()
    assert bindir is not None, "PostgreSQL server binaries not found: run scripts/test"
    return bindir


@pytest.fixture(scope="session")
def pg_cluster(
    tmp_path_factory: pytest.TempPathFactory, pg_bindir: Path
) -> Iterator[PostgresCluster]:
    tsdb = timescaledb_available(pg_bindir)
    if os.environ.get("CI"):
        assert tsdb, "TimescaleDB is not installed: scripts/test builds it"
    cluster = PostgresCluster(
        datadir=tmp_path_factory.mktemp("pg") / "data", bindir=pg_bindir, timescaledb=tsdb
    ).start()
    yield cluster
    cluster.stop("immediate")


@pytest.fixture(scope="session")
def database_url(pg_cluster: PostgresCluster) -> Iterator[str]:
    name = f"anxin_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_cluster.dsn(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(schema_sql())  # type: ignore[arg-type]
    yield url
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """A connection to the test database, emptied before each test."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(DATA_TABLES)} CASCADE")
        yield conn


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A fresh broker per test: no persistent session leaks from one test to the next."""
    executable = Mosquitto.find()
    assert executable, "mosquitto not found: run scripts/test"
    mosq = Mosquitto(workdir=tmp_path / "mosquitto", executable=executable).start()
    yield mosq
    mosq.stop()


def register(db: psycopg.Connection, *device_ids: str, kind: str = "watch") -> None:
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO devices (id, kind, expected_interval_s) VALUES (%s, %s, 60)",
            [(d, kind) for d in device_ids],
        )


@dataclass
class ServeProcess:
    """`anxin serve` as a real child process, which the fault tests may kill -9."""

    env: dict[str, str]
    log_path: Path
    http_port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, *, wait_ready: bool = True) -> "ServeProcess":
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "anxin.cli", "serve"],
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        if wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"anxin serve exited {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        pytest.fail(f"anxin serve not ready after {timeout}s:\n{self.log()}")

    def another(self, log_path: Path) -> "ServeProcess":
        """A second instance on the same database and broker (not started)."""
        port = free_port()
        env = {**self.env, "ANXIN_HTTP_PORT": str(port), "ANXIN_MQTT_CLIENT_ID": "second"}
        return ServeProcess(env=env, log_path=log_path, http_port=port)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def anxin_env(database_url: str, broker: Mosquitto) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANXIN_")}
    env.update(
        {
            "ANXIN_DATABASE_URL": database_url,
            "ANXIN_MQTT_URL": broker.url,
            "ANXIN_MQTT_CLIENT_ID": f"ingest-{uuid.uuid4().hex[:8]}",
            "ANXIN_HTTP_PORT": str(free_port()),
            "ANXIN_LOG_FORMAT": "json",
        }
    )
    return env


@pytest.fixture
def serve(anxin_env: dict[str, str], tmp_path: Path) -> Iterator[ServeProcess]:
    proc = ServeProcess(
        env=anxin_env, log_path=tmp_path / "serve.log", http_port=int(anxin_env["ANXIN_HTTP_PORT"])
    )
    yield proc
    proc.stop()


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")
