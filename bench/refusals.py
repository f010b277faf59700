"""What a hostile request costs the service: a 10 MB body, refused with 413 before it is
read; and, for comparison in the same run, the cheapest request the API answers
(`/healthz`). Also the size of the refusal, and the server's memory (VmRSS) before and
after. Prints JSON. `python -m bench.refusals [--requests N] [--mb N]`
"""

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

from access.accounts import Role, UserIn, add_user
from bench.serve import serve_env, start_serve, start_services, stop_serve
from testbed.services import free_port


async def admin_token(dsn: str) -> str:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        return await add_user(conn=conn, user=UserIn(name="bench", role=Role.ADMIN))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def timed(client: httpx.Client, n: int, **request: object) -> tuple[list[float], httpx.Response]:
    took, answer = [], None
    for _ in range(n):
        started = time.perf_counter()
        answer = client.request(**request)  # type: ignore[arg-type]
        took.append((time.perf_counter() - started) * 1000)
    assert answer is not None
    return took, answer


def summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[int(len(ms) * 0.95) - 1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--mb", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-refusals-"))
    pg, broker = start_services(work, [])
    port = free_port()
    env = serve_env(dsn=pg.dsn(), mqtt_url=broker.url, http_port=port, client_id="bench")
    token = asyncio.run(admin_token(pg.dsn()))
    serve = start_serve(env, work / "serve.log")
    base = f"http://127.0.0.1:{port}"
    big = b'{"note": "' + b"x" * (args.mb * 1024 * 1024) + b'"}'
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            timed(client, 10, method="GET", url="/healthz")  # warm up
            before = rss_kib(serve.pid)
            floor, _ = timed(client, args.requests, method="GET", url="/healthz")
            refused, answer = timed(
                client, args.requests, method="POST", url="/api/v1/alerts/1/note",
                content=big, headers=headers,
            )  # fmt: skip
            after = rss_kib(serve.pid)
    finally:
        stop_serve(serve)
        broker.stop()
        pg.stop()
    print(json.dumps({
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "body_mb": args.mb,
        "requests": args.requests,
        "refused_413": {**summary(refused), "status": answer.status_code,
                        "answer_bytes": len(answer.content)},
        "healthz_floor": summary(floor),
        "server_rss_kib": {"before": before, "after": after, "grew": after - before},
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
