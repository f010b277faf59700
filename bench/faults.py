"""Faults under load: what a broker restart and a broker kill -9 lose, and how late an
SOS is while one device floods.

    python -m bench.faults [--rate 5000] [--seconds 20] [--flood-rate 20000]
                           [--flood-seconds 30]

Starts its own PostgreSQL (TimescaleDB when installed), Mosquitto (project config,
persistence on) and `anxin serve` with default settings, on loopback.

- `graceful_restart`, `kill9`: 1,000 watches publish vitals at `--rate` with QoS 1,
  each message with a unique seq; part-way the broker is stopped (SIGTERM: it saves)
  or killed (SIGKILL: it cannot) and started again on the same port and data folder;
  a button presses SOS the moment it is back, before ingest has reconnected. Counted
  against the stored rows: messages the broker acknowledged and that were never stored
  (`lost`), and whether the SOS was alerted.
- `kill9_with_backlog`: the same stream while ingest is stopped (its session kept, so
  the broker queues for it), the broker killed 80 % of the way in, then ingest started:
  what the broker acknowledged since its last autosave is lost (Mosquitto writes
  nothing between saves), so `lost_seconds_of_stream` is at most `autosave_interval`.
- `sos_latency`: SOS presses from 20 buttons, 10 a second, each from publish until
  its alert's commit is heard on LISTEN, first with nothing else going on (the ceiling
  of the same run), then while one device floods vitals at `--flood-rate` from a
  separate process. p50/p99/max in milliseconds.

Prints one JSON object.
"""

import argparse
import json
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from bench.serve import serve_env, start_serve, start_services, stop_serve
from simulators.mqttload import LoadPublisher, paced
from testbed.services import free_port

WATCHES = 1000
BUTTONS = 20
SETTLE_S = 5.0  # stored counts unchanged this long: ingest has caught up


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def vitals(seq: int) -> tuple[str, bytes, object]:
    device = f"w{seq % WATCHES:04d}"
    body = f'{{"ts":{time.time():.3f},"seq":{seq},"hr":72,"spo2":97}}'
    return f"anxin/v1/{device}/vitals", body.encode(), seq


def sos(press: int, ts: float) -> tuple[str, bytes, object]:
    body = f'{{"ts":{ts:.6f},"type":"sos","id":"press-{press}"}}'
    return f"anxin/v1/b{press % BUTTONS:02d}/event", body.encode(), press


class Stack:
    def __init__(self, work: Path) -> None:
        self.pg, self.broker = start_services(
            work,
            [(f"w{i:04d}", "watch") for i in range(WATCHES)]
            + [(f"b{i:02d}", "sos_button") for i in range(BUTTONS)]
            + [("flood1", "watch")],
        )
        self.http_port = free_port()
        self._env = serve_env(
            dsn=self.pg.dsn(),
            mqtt_url=self.broker.url,
            http_port=self.http_port,
            client_id="bench-ingest",
        )
        self._log = work / "serve.log"
        self.serve = start_serve(self._env, self._log)

    def start_serve(self) -> None:
        self.serve = start_serve(self._env, self._log)

    def stop_serve(self) -> None:
        stop_serve(self.serve)

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with psycopg.connect(self.pg.dsn()) as conn:
            return conn.execute(sql).fetchall()  # type: ignore[arg-type]

    def close(self) -> None:
        self.stop_serve()
        self.broker.stop()
        self.pg.stop("immediate")


def wait_settled(stack: Stack, sql: str, expect: int) -> int:
    """The count `sql` gives once it reached `expect` or stopped changing."""
    last, since = -1, time.monotonic()
    while True:
        ((n,),) = stack.query(sql)
        assert isinstance(n, int)
        if n != last:
            last, since = n, time.monotonic()
        if n >= expect or time.monotonic() - since > SETTLE_S:
            return n
        time.sleep(0.2)


def restart_round(
    stack: Stack, name: str, stop: Callable[[], None], rate: int, seconds: float, first: int
) -> dict[str, object]:
    """Stream vitals with seqs from `first`; stop the broker 40 % of the way in."""
    pub = LoadPublisher(stack.broker.port, f"bench-{name}")
    button = LoadPublisher(stack.broker.port, f"bench-{name}-sos")
    gap: dict[str, float] = {}

    def fault(elapsed: float) -> None:
        if elapsed < seconds * 0.4 or "down" in gap:
            return
        gap["down"] = time.monotonic()
        stop()
        stack.broker.start()
        gap["up"] = time.monotonic()
        ts = time.time()
        if button.connect():  # ingest reconnects a second or more later
            button.publish([sos(first, ts)])

    paced(pub, rate, seconds, lambda i: vitals(first + i), on_tick=fault)
    time.sleep(1.0)  # the last PUBACKs
    acked = {int(tag) for tag, _ in pub.acked}  # type: ignore[call-overload]
    log(f"{name}: {pub.sent} sent, {len(acked)} acknowledged by the broker")
    in_round = f"seq >= {first} AND seq < {first + int(rate * seconds) + 1}"
    wait_settled(stack, f"SELECT count(*) FROM vitals WHERE {in_round}", len(acked))
    stored = {int(r[0]) for r in stack.query(f"SELECT seq FROM vitals WHERE {in_round}")}  # type: ignore[call-overload]
    sos_acked = bool(button.acked)
    alert_sql = f"SELECT count(*) FROM alerts WHERE dedup_key LIKE '%press-{first}'"
    alerted = wait_settled(stack, alert_sql, 1) == 1
    pub.close()
    button.close()
    return {
        "published": pub.sent,
        "acknowledged": len(acked),
        "stored": len(stored),
        "lost": len(acked - stored),
        "broker_down_s": round(gap["up"] - gap["down"], 2),
        "sos_in_gap_acknowledged": sos_acked,
        "sos_in_gap_alerted": alerted,
    }


def backlog_round(stack: Stack, rate: int, seconds: float, first: int) -> dict[str, object]:
    """Ingest stopped (its session kept), so the broker holds a growing backlog; the
    broker is killed near the end: what arrived since its last autosave is lost."""
    stack.stop_serve()
    stack.broker.stop()  # a save now: the autosave clock starts with the broker
    stack.broker.start()
    started = time.monotonic()
    pub = LoadPublisher(stack.broker.port, "bench-backlog")
    killed: dict[str, float] = {}

    def fault(elapsed: float) -> None:
        if elapsed >= seconds * 0.8 and "at" not in killed:
            killed["at"] = time.monotonic() - started
            stack.broker.kill()
            stack.broker.start()

    paced(pub, rate, seconds, lambda i: vitals(first + i), on_tick=fault)
    time.sleep(1.0)
    acked = {int(tag) for tag, _ in pub.acked}  # type: ignore[call-overload]
    pub.close()
    stack.start_serve()
    in_round = f"seq >= {first} AND seq < {first + int(rate * seconds) + 1}"
    wait_settled(stack, f"SELECT count(*) FROM vitals WHERE {in_round}", len(acked))
    stored = {int(r[0]) for r in stack.query(f"SELECT seq FROM vitals WHERE {in_round}")}  # type: ignore[call-overload]
    lost = len(acked - stored)
    log(f"kill -9 with a backlog: {len(acked)} acknowledged, {lost} lost")
    return {
        "acknowledged": len(acked),
        "stored": len(stored),
        "lost": lost,
        "lost_seconds_of_stream": round(lost / rate, 1),
        "killed_after_broker_start_s": round(killed["at"], 1),
    }


class AlertListener(threading.Thread):
    """Hears each change to an incident commit (pg_notify is delivered on commit), and
    when: the notification carries the change's audit id."""

    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.heard: dict[int, float] = {}
        self._conn = psycopg.connect(dsn, autocommit=True)
        self._conn.execute("LISTEN anxin_alerts")
        self._stopping = threading.Event()

    def run(self) -> None:
        sock = self._conn.pgconn.socket
        while not self._stopping.is_set():
            if select.select([sock], [], [], 0.1)[0]:
                for note in self._conn.notifies(timeout=0, stop_after=0):
                    self.heard[json.loads(note.payload)["id"]] = time.time()

    def stop(self) -> None:
        self._stopping.set()
        self.join()
        self._conn.close()


def sos_latencies(stack: Stack, first_press: int, presses: int) -> dict[str, object]:
    """Press SOS 10 times a second; milliseconds from publish to the alert's commit."""
    listener = AlertListener(stack.pg.dsn())
    listener.start()
    button = LoadPublisher(stack.broker.port, f"bench-sos-{first_press}")
    assert button.connect()
    sent: dict[int, float] = {}
    for k in range(presses):
        press = first_press + k
        sent[press] = time.time()
        button.publish([sos(press, sent[press])])
        time.sleep(0.1)
    deadline = time.monotonic() + 30
    while len(listener.heard) < presses and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # the first press also opened the incident: one more to hear
    listener.stop()
    button.close()
    # each press is a finding: its audit row (whose id the notification carries) names
    # its key, whether it opened the alert or counted as a repeat on it
    keys = stack.query(
        "SELECT id, data->>'key' FROM alert_audit WHERE action IN ('alert_opened', 'repeated')"
        f" AND id IN ({','.join(map(str, listener.heard))})"
        if listener.heard
        else "SELECT 0, '' WHERE false"
    )
    ms = sorted(
        (listener.heard[int(i)] - sent[int(str(key).rsplit("press-", 1)[1])]) * 1000  # type: ignore[call-overload]
        for i, key in keys
        if "press-" in str(key)
    )
    if len(ms) < 2:
        return {"presses": presses, "alerted": len(ms)}
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "presses": presses,
        "alerted": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(cuts[98], 1),
        "max_ms": round(ms[-1], 1),
    }


def flood(port: int, rate: int, seconds: float) -> None:
    """Child process: one device (flood1) publishing vitals at `rate` for `seconds`."""
    pub = LoadPublisher(port, "bench-flood")

    def one(i: int) -> tuple[str, bytes, object]:
        body = f'{{"ts":{time.time():.3f},"seq":{i},"hr":80}}'
        return "anxin/v1/flood1/vitals", body.encode(), i

    started = time.monotonic()
    paced(pub, rate, seconds, one, tick_s=0.005)
    elapsed = time.monotonic() - started
    time.sleep(1.0)
    print(json.dumps({"sent": pub.sent, "acknowledged": len(pub.acked), "seconds": elapsed}))


def flood_round(stack: Stack, rate: int, seconds: float, presses: int) -> dict[str, object]:
    port = stack.broker.port
    quiet = sos_latencies(stack, 100_000, presses)
    log(f"SOS alone: {quiet}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.faults", "--flood-only", *map(str, (port, rate, seconds))],
        stdout=subprocess.PIPE,
    )
    time.sleep(min(3.0, seconds / 4))  # the flood under way (past its burst allowance)
    flooded = sos_latencies(stack, 200_000, presses)
    out, _ = proc.communicate(timeout=seconds + 60)
    sent = json.loads(out)
    stored = wait_settled(
        stack, "SELECT count(*) FROM vitals WHERE device_id = 'flood1'", sent["acknowledged"]
    )
    summarised = stack.query(
        "SELECT coalesce(sum(messages), 0)::bigint FROM dead_letters WHERE device_id = 'flood1'"
    )[0][0]
    log(f"SOS during the flood: {flooded}")
    return {
        "alone": quiet,
        "flooding": flooded,
        "flood": {
            "target_per_s": rate,
            "acknowledged_per_s": round(sent["acknowledged"] / sent["seconds"]),
            "stored": stored,
            "counted_over_limit": summarised,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=5000, help="vitals/s during restarts")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--flood-rate", type=int, default=20_000)
    parser.add_argument("--flood-seconds", type=float, default=30.0)
    parser.add_argument("--flood-only", nargs=3, metavar=("PORT", "RATE", "SECONDS"))
    args = parser.parse_args()
    if args.flood_only:
        port, rate, seconds = args.flood_only
        flood(int(port), int(rate), float(seconds))
        return
    with tempfile.TemporaryDirectory(prefix="anxin-faults-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        stack = Stack(work)
        try:
            n = int(args.rate * args.seconds) + 1
            graceful = restart_round(
                stack, "graceful", stack.broker.stop, args.rate, args.seconds, 0
            )
            log(f"graceful restart: {graceful}")
            killed = restart_round(stack, "kill9", stack.broker.kill, args.rate, args.seconds, n)
            log(f"kill -9: {killed}")
            backlog = backlog_round(stack, args.rate, args.seconds, 2 * n)
            presses = int(max(args.flood_seconds - 6, 5) * 10)
            latency = flood_round(stack, args.flood_rate, args.flood_seconds, presses)
        finally:
            stack.close()
    conf = (Path(__file__).parent.parent / "anxin" / "mosquitto.conf").read_text()
    autosave = next(
        (line.split()[1] for line in conf.splitlines() if line.startswith("autosave_interval")),
        None,
    )
    print(
        json.dumps(
            {
                "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                "mosquitto_autosave_interval_s": autosave,
                "stream_per_s": args.rate,
                "graceful_restart": graceful,
                "kill9": killed,
                "kill9_with_backlog": backlog,
                "sos_latency": latency,
            }
        )
    )


if __name__ == "__main__":
    main()
