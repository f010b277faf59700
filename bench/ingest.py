"""Ingest throughput: broker -> ingest -> committed rows, against a bare consumer.

    python -m bench.ingest [--messages 200000]

Starts its own PostgreSQL (TimescaleDB when installed) and Mosquitto (project config)
on loopback. For each consumer (first a bare paho consumer that only counts, then
`anxin serve`), a separate publisher process fills the consumer's persistent session
with the same fixed backlog of vitals messages, then the consumer is started and the
drain rate is timed from its first message (bare) or first commit (ingest) to its last.
A backlog is used because on this 2-core machine one Python publisher tops out near
5,000 msg/s, below either consumer. Prints one JSON object.
"""

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from anxin.db import schema_sql
from anxin.localstack import (
    Mosquitto,
    PostgresCluster,
    free_port,
    postgres_bindir,
    timescaledb_available,
)
from simulators.publisher import Publisher

DEVICES = 1000
SHARED = "$share/anxin/anxin/v1/+/+"


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def publish_backlog(port: int, n: int) -> None:
    """Child process: publish n vitals messages with QoS 1 and wait for every PUBACK."""
    with Publisher("127.0.0.1", port, client_id="bench-pub") as pub:
        base = 1_700_000_000
        for i in range(n):
            pub.publish(
                f"anxin/v1/bench-{i % DEVICES:04d}/vitals",
                {
                    "ts": base + i // DEVICES,
                    "seq": i,
                    "hr": 60 + i % 40,
                    "spo2": 97,
                    "temp": 36.6,
                    "battery": 80,
                },
                "vitals",
            )
            if i % 50_000 == 0 and i:
                log(f"published {i}")
    assert pub.acknowledged["vitals"] == n, pub.acknowledged


def run_publisher(port: int, n: int) -> float:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--publish-only", str(port), str(n)], check=True
    )
    elapsed = time.monotonic() - started
    log(f"backlog of {n} published in {elapsed:.1f}s ({n / elapsed:.0f}/s)")
    return n / elapsed


def bare_consumer(port: int, n: int) -> float:
    """Counts messages on the shared subscription; paho acknowledges them itself."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    subscribed, done = threading.Event(), threading.Event()
    times: dict[str, float] = {}
    count = 0

    def on_message(_c: object, _u: object, _m: object) -> None:
        nonlocal count
        count += 1
        if count == 1:
            times["first"] = time.monotonic()
        if count >= n:
            times["last"] = time.monotonic()
            done.set()

    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(SHARED, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    # Register the session, leave, let the backlog build, come back and drain it.
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    subscribed.wait(10)
    client.disconnect()
    client.loop_stop()
    run_publisher(port, n)
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    done.wait(300)
    # End the session too, or the broker keeps sharing the group's messages with it.
    bye = Properties(PacketTypes.DISCONNECT)
    bye.SessionExpiryInterval = 0
    client.disconnect(properties=bye)
    client.loop_stop()
    assert count >= n, f"bare consumer got {count} of {n}"
    return (n - 1) / (times["last"] - times["first"])


def stored_total(base_url: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=5).text
    return sum(
        float(v) for v in re.findall(r"^anxin_ingest_rows_stored_total\{[^}]*\} (\S+)", text, re.M)
    )


def ingest_consumer(port: int, n: int, dsn: str, workdir: Path) -> tuple[float, int]:
    http_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANXIN_")}
    env.update(
        {
            "ANXIN_DATABASE_URL": dsn,
            "ANXIN_MQTT_URL": f"mqtt://127.0.0.1:{port}",
            "ANXIN_HTTP_PORT": str(http_port),
            "ANXIN_MQTT_CLIENT_ID": "bench-ingest",
            "ANXIN_LOG_LEVEL": "WARNING",
        }
    )
    base = f"http://127.0.0.1:{http_port}"

    def start() -> subprocess.Popen[bytes]:
        out = (workdir / "serve.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "anxin.cli", "serve"], env=env, stdout=out, stderr=out
        )
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    return proc
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError((workdir / "serve.log").read_text()[-2000:])

    proc = start()
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    run_publisher(port, n)
    proc = start()
    first = last = None
    seen = 0.0
    try:
        deadline = time.monotonic() + 300
        while seen < n and time.monotonic() < deadline:
            seen = stored_total(base)
            now = time.monotonic()
            if seen > 0 and first is None:
                first, first_seen = now, seen
            last = now
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM vitals").fetchone()
    stored = int(row[0]) if row else 0
    assert first is not None
    assert last is not None
    assert last > first
    return (seen - first_seen) / (last - first), stored


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--publish-only", nargs=2, type=int, metavar=("PORT", "N"))
    args = parser.parse_args()
    if args.publish_only:
        publish_backlog(*args.publish_only)
        return
    n = args.messages
    bindir = postgres_bindir()
    assert bindir, "no PostgreSQL server binaries"
    with tempfile.TemporaryDirectory(prefix="anxin-bench-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        pg = PostgresCluster(
            datadir=work / "pg", bindir=bindir, timescaledb=timescaledb_available(bindir)
        ).start()
        broker = Mosquitto(workdir=work / "mq", executable=Mosquitto.find() or "mosquitto").start()
        try:
            with psycopg.connect(pg.dsn(), autocommit=True) as conn:
                conn.execute(schema_sql())  # type: ignore[arg-type]
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO devices (id, kind) VALUES (%s, 'watch')",
                        [(f"bench-{i:04d}",) for i in range(DEVICES)],
                    )
                tsdb = conn.execute(
                    "SELECT extversion FROM pg_extension WHERE extname='timescaledb'"
                ).fetchone()
            log("bare consumer")
            bare = bare_consumer(broker.port, n)
            log(f"bare consumer drained at {bare:.0f}/s; now anxin serve")
            ingest, stored = ingest_consumer(broker.port, n, pg.dsn(), work)
        finally:
            broker.stop()
            pg.stop("immediate")
    print(
        json.dumps(
            {
                "published": n,
                "stored": stored,
                "stored_per_s": round(ingest),
                "bare_per_s": round(bare),
                "ratio": round(ingest / bare, 3),
                "database": f"TimescaleDB {tsdb[0]}" if tsdb else "PostgreSQL",
                "machine": (
                    f"{platform.machine()}, {os.cpu_count()} cores,"
                    f" Python {platform.python_version()}"
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
