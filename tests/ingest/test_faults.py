"""Fault tests: kill -9 the service, take the database away. Count what arrived."""

import re
import threading
import time

import psycopg
import pytest

from anxin.localstack import Mosquitto, PostgresCluster
from simulators.publisher import Publisher
from tests.conftest import ServeProcess, register, wait_until

pytestmark = pytest.mark.slow


def stored(db_url: str) -> tuple[int, int]:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (device_id, seq)) FROM vitals"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


class SteadyPublisher(threading.Thread):
    """Publishes vitals at a steady rate from its own MQTT connection."""

    def __init__(self, broker: Mosquitto, devices: list[str], total: int, rate: float) -> None:
        super().__init__(daemon=True)
        self.broker, self.devices, self.total, self.rate = broker, devices, total, rate
        self.acknowledged = 0

    def run(self) -> None:
        start = time.monotonic()
        with Publisher("127.0.0.1", self.broker.port, client_id="steady-pub") as pub:
            for i in range(self.total):
                d = self.devices[i % len(self.devices)]
                pub.publish(
                    f"anxin/v1/{d}/vitals", {"ts": 1_700_000_000 + i, "seq": i, "hr": 72}, "vitals"
                )
                delay = start + (i + 1) / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        self.acknowledged = pub.acknowledged["vitals"]


def test_kill9_mid_stream_then_restart_loses_and_duplicates_nothing(
    db: psycopg.Connection, database_url: str, broker: Mosquitto, serve: ServeProcess
) -> None:
    devices = [f"w{i}" for i in range(50)]
    register(db, *devices)
    serve.env["ANXIN_BATCH_MAX_DELAY_MS"] = "200"
    serve.start()
    pub = SteadyPublisher(broker, devices, total=12_000, rate=2_000)
    pub.start()
    wait_until(lambda: stored(database_url)[0] > 2_000, timeout=20, what="ingest under way")
    serve.kill9()
    at_kill = stored(database_url)[0]
    time.sleep(1.5)
    serve.start()
    pub.join(60)
    assert pub.acknowledged == 12_000
    wait_until(lambda: stored(database_url)[0] >= 12_000, timeout=60, what="all 12,000 rows")
    time.sleep(1)
    total, distinct = stored(database_url)
    assert (total, distinct) == (12_000, 12_000)
    assert at_kill < 12_000, "the kill came after the stream ended; the test proved nothing"


def test_database_outage_of_30s_loses_nothing_and_is_logged_once(
    db: psycopg.Connection,
    database_url: str,
    broker: Mosquitto,
    serve: ServeProcess,
    pg_cluster: PostgresCluster,
) -> None:
    devices = [f"w{i}" for i in range(20)]
    register(db, *devices)
    db.close()
    serve.start()
    pub = SteadyPublisher(broker, devices, total=8_000, rate=200)
    pub.start()
    wait_until(lambda: stored(database_url)[0] > 500, timeout=20, what="ingest under way")
    pg_cluster.stop("fast")
    try:
        time.sleep(30)
    finally:
        pg_cluster.start()
    pub.join(60)
    assert pub.acknowledged == 8_000
    wait_until(lambda: stored(database_url)[0] >= 8_000, timeout=60, what="the backlog drained")
    assert stored(database_url) == (8_000, 8_000)
    log = serve.log()
    assert len(re.findall(r"database unavailable", log)) == 1, log[-3000:]
    assert "database back after" in log
