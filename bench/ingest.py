"""Ingest throughput: broker -> ingest -> committed rows, against a bare consumer.

    python -m bench.ingest [--messages 100000] [--rounds 3]

Starts its own PostgreSQL (TimescaleDB when installed) and Mosquitto (project config)
on loopback. Three persistent sessions are registered, each in its own share group,
so one publisher process fills all three with the same fixed backlog of vitals
messages:
- the bare consumer: ingest's own MQTT client, only counting and acknowledging
  (`bare_per_s`, the ceiling for ingest, and `ratio` against it);
- paho-mqtt as shipped, only counting (`stock_paho_per_s`, for comparison);
- `anxin serve` (`stored_per_s`).
Then each drains its backlog alone, in that order. A backlog is used because on
this 2-core machine one Python publisher tops out near 5,000 msg/s, below any of them.

A rate runs from the first message (bare) or first committed batch (ingest) to the
last, so neither counts its start-up. The bare consumer timestamps messages as they
come; ingest's committed-row counter is read every 50 ms around the first and the
last commit and at most every 0.5 s in between (each read costs the process being
measured). CPU per message is that consumer process's user +
system time over the same span; while ingest drains, Mosquitto's and the whole
PostgreSQL server's are read too, and give `two_core_bound_per_s`. Rounds repeat the
whole thing on the same broker and database, and the medians are reported: on a
shared 2-core machine single runs of either consumer vary by tens of percent.
Prints one JSON object.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import httpx
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bench.serve import serve_env, start_serve, start_services, stop_serve
from ingest.mqtt_client import IngestClient
from ingest.topics import SUBSCRIPTION
from simulators.publisher import Publisher
from testbed.services import free_port

DEVICES = 1000
ACK_EVERY = 1000  # the bare consumer's PUBACK batch; ingest's is its commit batch
POLL_S = 0.05  # how late the first and the last commit may be seen
POLL_MAX_S = 0.5


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class Mark(NamedTuple):
    through: float  # messages through so far
    t: float  # monotonic seconds
    cpu: float  # the consumer process's CPU seconds
    broker_cpu: float = 0.0  # Mosquitto's (read while ingest drains)
    database_cpu: float = 0.0  # the PostgreSQL server's, all its processes (same)


@dataclass
class Drain:
    per_s: float
    cpu_us_per_msg: float
    broker_us_per_msg: float = 0.0
    database_us_per_msg: float = 0.0


def publish_backlog(port: int, n: int, first_seq: int) -> None:
    """Child process: publish n vitals messages with QoS 1 and wait for every PUBACK."""
    with Publisher("127.0.0.1", port, client_id="bench-pub") as pub:
        base = 1_700_000_000 + first_seq // DEVICES
        for i in range(n):
            pub.publish(
                f"anxin/v1/bench-{i % DEVICES:04d}/vitals",
                {
                    "ts": base + i // DEVICES,
                    "seq": first_seq + i,
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


def run_publisher(port: int, n: int, first_seq: int) -> None:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--publish-only", str(port), str(n), str(first_seq)],
        check=True,
    )
    elapsed = time.monotonic() - started
    log(f"backlog of {n} published in {elapsed:.1f}s ({n / elapsed:.0f}/s)")


def sustained(marks: list[Mark], n: int) -> Drain:
    """Rate and CPU from the first message through (or batch committed) to the n-th."""
    first = next(m for m in marks if m.through > 0)
    last = next(m for m in marks if m.through >= n)
    count = last.through - first.through
    return Drain(
        count / (last.t - first.t),
        (last.cpu - first.cpu) / count * 1e6,
        (last.broker_cpu - first.broker_cpu) / count * 1e6,
        (last.database_cpu - first.database_cpu) / count * 1e6,
    )


class BareConsumer:
    """Counts messages on its own shared subscription and does nothing else.

    By default through ingest's own MQTT client (`IngestClient`), acknowledging a
    thousand at a time as ingest does per commit: the ceiling for ingest, so the gap
    between the two is ingest's own work (decoding, storing, committing, detecting).
    With `stock_paho`, through paho-mqtt as shipped (`on_message`, a PUBACK per
    message), for comparison: what a plain paho consumer manages on this machine.
    """

    def __init__(self, port: int, *, stock_paho: bool = False) -> None:
        self._port = port
        name = "bench-paho" if stock_paho else "bench-bare"
        self._topic = f"$share/{name}/{SUBSCRIPTION}"
        self._client: mqtt.Client
        if stock_paho:
            self._client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5
            )
            self._client.on_message = lambda *_: self._counted()
        else:
            client = IngestClient(self._on_message, client_id=name, protocol=mqtt.MQTTv5)
            self._client, self._ack_all = client, client.ack_all
        self._unacked: list[int] = []
        self._props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        self._props.SessionExpiryInterval = 3600
        self._subscribed = threading.Event()
        self._client.on_connect = lambda c, *_: c.subscribe(self._topic, qos=1)
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._marks: list[Mark] = []
        self._count, self._n = 0, 0
        self._every = 1  # a mark every n/1000 messages, and at the first and the last
        self._done = threading.Event()

    def register(self) -> None:
        """Connect once so the broker keeps a session for the backlog, then leave."""
        self._connect()
        self._subscribed.wait(10)
        self._client.disconnect()
        self._client.loop_stop()

    def drain(self, n: int) -> Drain:
        self._count, self._n, self._every = 0, n, max(1, n // 1000)
        self._marks.clear()
        self._unacked = []  # ids of an earlier connection mean nothing on this one
        self._done.clear()
        self._connect()
        self._done.wait(300)
        self._client.disconnect()
        self._client.loop_stop()
        assert self._count >= n, f"bare consumer got {self._count} of {n}"
        return sustained(self._marks, n)

    def close(self) -> None:
        # End the session too, or the broker keeps queueing the group's messages for it.
        self._connect()
        self._subscribed.wait(10)
        bye = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
        bye.SessionExpiryInterval = 0
        self._client.disconnect(properties=bye)
        self._client.loop_stop()

    def _connect(self) -> None:
        self._subscribed.clear()
        self._client.connect("127.0.0.1", self._port, clean_start=False, properties=self._props)
        self._client.loop_start()

    def _on_message(self, _topic: bytes, _payload: bytes, mid: int, _qos: int) -> None:
        self._unacked.append(mid)
        if len(self._unacked) == ACK_EVERY or self._count + 1 >= self._n:
            self._ack_all(self._unacked)
            self._unacked = []
        self._counted()

    def _counted(self) -> None:
        self._count += 1
        if self._count % self._every == 1 or self._count >= self._n:
            self._marks.append(Mark(self._count, time.monotonic(), time.process_time()))
        if self._count >= self._n:
            self._done.set()


def stored_total(base_url: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=5).text
    return sum(
        float(v) for v in re.findall(r"^anxin_ingest_rows_stored_total\{[^}]*\} (\S+)", text, re.M)
    )


class IngestConsumer:
    """`anxin serve` in a child process, drained while its committed-row counter is read."""

    def __init__(
        self, port: int, dsn: str, workdir: Path, *, broker_pid: int, postmaster_pid: int
    ) -> None:
        self._broker_pid, self._postmaster_pid = broker_pid, postmaster_pid
        http_port = free_port()
        mqtt_url = f"mqtt://127.0.0.1:{port}"
        self._env = serve_env(
            dsn=dsn, mqtt_url=mqtt_url, http_port=http_port, client_id="bench-ingest"
        )
        self._base = f"http://127.0.0.1:{http_port}"
        self._log = workdir / "serve.log"

    def register(self) -> None:
        self._stop(self._start())

    def drain(self, n: int) -> Drain:
        proc = self._start()
        marks: list[Mark] = []
        try:
            deadline = time.monotonic() + 300
            seen = 0.0
            while seen < n and time.monotonic() < deadline:
                seen = stored_total(self._base)
                marks.append(
                    Mark(
                        seen,
                        time.monotonic(),
                        cpu_seconds(proc.pid),
                        cpu_seconds(self._broker_pid),
                        sum(map(cpu_seconds, process_tree(self._postmaster_pid))),
                    )
                )
                time.sleep(poll_interval(marks, n))
        finally:
            self._stop(proc)
        assert seen >= n, f"ingest stored {seen} of {n}"
        return sustained(marks, n)

    def _start(self) -> subprocess.Popen[bytes]:
        return start_serve(self._env, self._log)

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        stop_serve(proc)


def two_core_bound(drain: Drain) -> float:
    """Messages/s at which ingest, the broker and the database, at the CPU per message
    measured, would together keep both cores busy: no arrangement of the same work
    on this machine stores faster."""
    per_msg = drain.cpu_us_per_msg + drain.broker_us_per_msg + drain.database_us_per_msg
    return 2e6 / per_msg


def poll_interval(marks: list[Mark], n: int) -> float:
    """Every POLL_S around the first and the last commit, seldom in between: each
    read of /metrics costs the process being measured."""
    first = next((m for m in marks if m.through > 0), None)
    last = marks[-1]
    if first is None or last.through <= first.through:
        return POLL_S
    rate = (last.through - first.through) / (last.t - first.t)
    half_of_what_is_left = (n - last.through) / rate / 2
    return min(max(half_of_what_is_left, POLL_S), POLL_MAX_S)


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads); 0 once it is gone."""
    try:
        fields = _stat(pid)
    except FileNotFoundError:  # a PostgreSQL worker that ended between list and read
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """A process and its children: the postmaster and every PostgreSQL backend,
    WAL writer, checkpointer and TimescaleDB worker."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    children.append(int(entry.name))
            except FileNotFoundError:
                continue
    return [pid, *children]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000, help="backlog per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--publish-only", nargs=3, type=int, metavar=("PORT", "N", "FIRST_SEQ"))
    args = parser.parse_args()
    if args.publish_only:
        publish_backlog(*args.publish_only)
        return
    n = args.messages
    rounds: list[tuple[Drain, Drain, Drain]] = []
    with tempfile.TemporaryDirectory(prefix="anxin-bench-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        pg, broker = start_services(work, [(f"bench-{i:04d}", "watch") for i in range(DEVICES)])
        try:
            with psycopg.connect(pg.dsn(), autocommit=True) as conn:
                tsdb = conn.execute(
                    "SELECT extversion FROM pg_extension WHERE extname='timescaledb'"
                ).fetchone()
            bare = BareConsumer(broker.port)
            paho = BareConsumer(broker.port, stock_paho=True)
            assert broker.pid is not None
            assert pg.postmaster_pid is not None
            ingest = IngestConsumer(
                broker.port,
                pg.dsn(),
                work,
                broker_pid=broker.pid,
                postmaster_pid=pg.postmaster_pid,
            )
            for consumer in (bare, paho, ingest):
                consumer.register()
            for r in range(args.rounds):
                run_publisher(broker.port, n, r * n)
                b = bare.drain(n)
                p = paho.drain(n)
                log(f"round {r + 1}: bare {b.per_s:.0f}/s, stock paho {p.per_s:.0f}/s; now anxin")
                i = ingest.drain(n)
                log(f"round {r + 1}: anxin serve {i.per_s:.0f}/s ({i.per_s / b.per_s:.2f})")
                rounds.append((i, b, p))
            bare.close()
            paho.close()
            with psycopg.connect(pg.dsn()) as conn:
                row = conn.execute("SELECT count(*) FROM vitals").fetchone()
            stored = int(row[0]) if row else 0
        finally:
            broker.stop()
            pg.stop("immediate")
    med = statistics.median
    print(
        json.dumps(
            {
                "published": n * args.rounds,
                "stored": stored,
                "stored_per_s": round(med(i.per_s for i, _, _ in rounds)),
                "bare_per_s": round(med(b.per_s for _, b, _ in rounds)),
                "ratio": round(med(i.per_s / b.per_s for i, b, _ in rounds), 3),
                "stock_paho_per_s": round(med(p.per_s for _, _, p in rounds)),
                "cpu_us_per_msg": {
                    "ingest": round(med(i.cpu_us_per_msg for i, _, _ in rounds), 1),
                    "bare": round(med(b.cpu_us_per_msg for _, b, _ in rounds), 1),
                    "stock_paho": round(med(p.cpu_us_per_msg for _, _, p in rounds), 1),
                    "broker_while_ingesting": round(
                        med(i.broker_us_per_msg for i, _, _ in rounds), 1
                    ),
                    "database_while_ingesting": round(
                        med(i.database_us_per_msg for i, _, _ in rounds), 1
                    ),
                },
                "two_core_bound_per_s": round(med(map(two_core_bound, (i for i, _, _ in rounds)))),
                "rounds": [
                    {
                        "stored_per_s": round(i.per_s),
                        "bare_per_s": round(b.per_s),
                        "stock_paho_per_s": round(p.per_s),
                    }
                    for i, b, p in rounds
                ],
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
