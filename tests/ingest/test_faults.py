"""Fault tests: kill -9 the service, take the database away. Count what arrived."""

import json
import re
import threading
import time
from datetime import datetime
from typing import Any

import httpx
import psycopg
import pytest

from simulators.publisher import Publisher
from testbed.services import Mosquitto, PostgresCluster
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


def log_entries(serve: ServeProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in serve.log().splitlines() if line.startswith("{")]


def test_database_outage_of_30s_loses_nothing_and_is_reported_promptly_with_its_length(
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
    went = time.time()
    pg_cluster.stop("fast")
    try:
        time.sleep(30)
    finally:
        pg_cluster.start()
    lasted = time.time() - went
    pub.join(60)
    assert pub.acknowledged == 8_000
    wait_until(lambda: stored(database_url)[0] >= 8_000, timeout=60, what="the backlog drained")
    assert stored(database_url) == (8_000, 8_000)
    log = serve.log()
    assert len(re.findall(r"database unavailable", log)) == 1, log[-3000:]
    entries = log_entries(serve)
    (down,) = [e for e in entries if e["msg"].startswith("database unavailable")]
    (back,) = [e for e in entries if e["msg"].startswith("database back after")]
    reported = datetime.fromisoformat(down["ts"]).timestamp()
    assert reported - went < 8, "the outage was reported late"
    measured = float(re.findall(r"after ([0-9.]+)s", back["msg"])[0])
    assert abs(measured - lasted) < 3, f"said {measured:.1f}s for an outage of {lasted:.1f}s"
    during = [e for e in entries if down["ts"] <= e["ts"] <= back["ts"]]
    assert len(during) <= 5, "the outage flooded the log:\n" + "\n".join(e["msg"] for e in during)
    metrics = httpx.get(f"{serve.base_url}/metrics", timeout=5).text
    assert re.search(r"^anxin_ingest_database_outages_total 1\.0$", metrics, re.M)  # one outage
