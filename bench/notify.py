"""Outbox throughput: messages delivered to a local webhook receiver per second; then
how soon an SOS's texts arrive, idle, under load and with a receiver in trouble
(bench/notify_latency.py).

    python -m bench.notify [--messages 5000] [--rounds 40] [--load-rate 10000]
                           [--backlog 10000]

A burst of messages is committed to the outbox of a running `anxin serve`; the clock
runs from the commit until the receiver (a real local HTTP server that verifies each
signature) has every one. The ceiling, measured in the same run, is that receiver
taking signed requests from another process as fast as it sends them (no database),
so the figure reads against what this receiver on this machine can take at all.
"""

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
import psycopg

from bench import notify_latency
from bench.serve import serve_env, start_serve, start_services, stop_serve
from dispatch.notify.webhook import signature
from dispatch.notify.worker import CONCURRENCY
from testbed.receivers import WebhookReceiver
from testbed.services import free_port

SECRET = "bench-secret-0123456789"


def outbox_rate(dsn: str, receiver: WebhookReceiver, n: int) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO webhooks (name, url, secret) VALUES ('bench', %s, %s)",
            (receiver.url, SECRET),
        )
        time.sleep(0.5)
        started = time.perf_counter()
        conn.execute(
            "INSERT INTO outbox (channel, recipient, body)"
            " SELECT 'webhook', 'bench', json_build_object('n', n) FROM generate_series(1, %s) n",
            (n,),
        )
    while len(receiver.ids()) < n:
        time.sleep(0.01)
        if time.perf_counter() - started > 120:
            msg = f"only {len(receiver.ids())} of {n} delivered in 120 s"
            raise RuntimeError(msg)
    return n / (time.perf_counter() - started)


def ceiling(url: str, n: int, concurrency: int) -> float:
    """Signed posts straight from another process (as `anxin serve` is one), with no
    database, `concurrency` at a time."""
    with ProcessPoolExecutor(1) as pool:
        return pool.submit(_post_all, url, n, concurrency).result()


def _post_all(url: str, n: int, concurrency: int) -> float:
    return asyncio.run(_posts(url, n, concurrency))


async def _posts(url: str, n: int, concurrency: int) -> float:
    body = b'{"n": 0}'
    async with httpx.AsyncClient(timeout=10) as client:
        sem = asyncio.Semaphore(concurrency)

        async def one(k: int) -> None:
            async with sem:
                now = int(time.time())
                headers = {
                    "Anxin-Message-Id": f"c{k}",
                    "Anxin-Timestamp": str(now),
                    "Anxin-Signature": signature(SECRET, now, body),
                }
                await client.post(url, content=body, headers=headers)

        started = time.perf_counter()
        await asyncio.gather(*(one(k) for k in range(n)))
        return n / (time.perf_counter() - started)


def scenario_list(text: str) -> frozenset[str]:
    chosen = frozenset(s.strip() for s in text.split(",") if s.strip())
    unknown = chosen - notify_latency.SCENARIOS
    if unknown:
        known = ", ".join(sorted(notify_latency.SCENARIOS))
        msg = f"no such scenario: {', '.join(sorted(unknown))} (there are {known})"
        raise argparse.ArgumentTypeError(msg)
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=40, help="SOS presses per scenario")
    parser.add_argument("--load-rate", type=int, default=10_000, help="vitals/s under load")
    parser.add_argument("--backlog", type=int, default=10_000, help="routine messages queued")
    parser.add_argument(
        "--scenarios",
        type=scenario_list,
        default=notify_latency.SCENARIOS,
        help="which to measure besides idle, comma-separated (default: all of "
        + ", ".join(sorted(notify_latency.SCENARIOS))
        + ")",
    )
    parser.add_argument("--no-throughput", action="store_true", help="measure the latencies only")
    parser.add_argument("--load-only", nargs=3, metavar=("PORT", "RATE", "SECONDS"))
    args = parser.parse_args()
    if args.load_only:
        port, rate, seconds = args.load_only
        notify_latency.load(int(port), int(rate), float(seconds))
        return
    with tempfile.TemporaryDirectory(prefix="anxin-bench-notify-") as tmp:
        work = Path(tmp)
        pg, broker = start_services(work, [])
        receiver = WebhookReceiver(secret=SECRET).start()
        serve = None
        try:
            port = free_port()
            env = serve_env(dsn=pg.dsn(), mqtt_url=broker.url, http_port=port, client_id="bench")
            rate = top = unverified = None
            if not args.no_throughput:
                serve = start_serve(env, work / "serve.log")
                rate = round(outbox_rate(pg.dsn(), receiver, args.messages), 1)
                unverified = len(receiver.ids(verified=False))
                receiver.requests.clear()
                top = round(ceiling(receiver.url, args.messages, concurrency=CONCURRENCY), 1)
                stop_serve(serve)
                serve = None
            latency = notify_latency.run(
                work, pg, broker, rounds=args.rounds, load_rate=args.load_rate,
                backlog=args.backlog, scenarios=args.scenarios,
            )  # fmt: skip
        finally:
            if serve is not None:
                stop_serve(serve)
            receiver.stop()
            broker.stop()
            pg.stop("fast")
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "messages": args.messages,
        "outbox_per_s": rate,
        "outbox_target_per_s": 500,
        "receiver_ceiling_per_s": top,
        "refused_by_receiver": unverified,
        "latency": latency,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
