"""The operator API under a realistic table: 100,000 alerts (most of them closed long
ago, a thousand incidents still being worked), then

- `GET /api/v1/incidents`, the first page of the queue, timed from a client (target:
  p95 <= 50 ms), for an unlimited operator and for one limited to a district;
- the time from a committed change to its server-sent event at each of 50 connected
  clients (target: p99 <= 200 ms).

Prints JSON. `python -m bench.alerts [--alerts N] [--clients N] [--changes N]`
"""

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from httpx_sse import aconnect_sse

from access.accounts import Role, UserIn, add_user
from alerts import lifecycle
from alerts.lifecycle import Action
from alerts.response.dispatching import Dispatcher
from bench.serve import serve_env, start_serve, start_services, stop_serve
from dispatch.choosing import DispatchPolicy
from testbed.services import free_port

DISTRICTS = ["江岸区", "江汉区", "硚口区", "汉阳区", "武昌区", "青山区", "洪山区"]

_SEED = """
INSERT INTO residents (id, name, district)
SELECT 'r' || g, '居民' || g, (%(districts)s::text[])[1 + g %% 7]
FROM generate_series(1, %(residents)s) g;
INSERT INTO devices (id, kind, resident_id, expected_interval_s)
SELECT 'w' || g, 'watch', 'r' || g, 60 FROM generate_series(1, %(residents)s) g;
INSERT INTO incidents (subject, resident_id, device_id, district, opened_at, last_seen_at,
                       severity, status, acknowledged_at, closed_at, outcome, escalate_at)
SELECT 'r' || r || CASE WHEN g > %(alerts)s - %(active)s THEN '' ELSE ':' || g END,
       'r' || r, 'w' || r, (%(districts)s::text[])[1 + r %% 7],
       t, t, (ARRAY['P1','P2','P3','P3'])[1 + g %% 4],
       CASE WHEN g > %(alerts)s - %(active)s THEN 'open' ELSE 'resolved' END,
       CASE WHEN g > %(alerts)s - %(active)s THEN NULL ELSE t + interval '40 s' END,
       CASE WHEN g > %(alerts)s - %(active)s THEN NULL ELSE t + interval '20 min' END,
       CASE WHEN g > %(alerts)s - %(active)s THEN NULL ELSE 'assisted' END,
       CASE WHEN g > %(alerts)s - %(active)s THEN now() + interval '1 day' END
FROM (SELECT g, 1 + (g * 7919) %% %(residents)s AS r,
             now() - interval '90 days' * (1 - g::float / %(alerts)s) AS t
      FROM generate_series(1, %(alerts)s) g) s;
INSERT INTO alerts (observed_at, opened_at, device_id, resident_id, rule, severity, status,
                    reason, dedup_key, incident_id, data)
SELECT i.opened_at, i.opened_at, i.device_id, i.resident_id,
       (ARRAY['sos','fall','vitals_news2','offline'])[1 + i.id %% 4], i.severity, i.status,
       'seeded', 'seed:' || i.id, i.id, '{}'
FROM incidents i;
INSERT INTO alert_findings (dedup_key, alert_id, observed_at)
SELECT dedup_key, id, observed_at FROM alerts;
INSERT INTO alert_audit (at, incident_id, alert_id, actor, action, to_status)
SELECT opened_at, incident_id, id, 'system', 'alert_opened', 'open' FROM alerts;
ANALYZE;
"""


def quantiles(ms: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(cuts[94], 1),
        "p99_ms": round(cuts[98], 1),
        "max_ms": round(max(ms), 1),
        "samples": len(ms),
    }


def seed(dsn: str, alerts: int, active: int) -> dict[str, str]:
    started = time.monotonic()
    values = {"districts": DISTRICTS, "residents": 20_000, "alerts": alerts, "active": active}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in _SEED.split(";\n"):
            if statement.strip():
                conn.execute(statement, values)  # type: ignore[call-overload]
    print(f"seeded {alerts} alerts in {time.monotonic() - started:.1f}s", flush=True)

    async def users() -> dict[str, str]:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            return {
                "operator": await add_user(conn=conn, user=UserIn(name="op", role=Role.OPERATOR)),
                "district_operator": await add_user(
                    conn=conn, user=UserIn(name="op2", role=Role.OPERATOR, districts=["武昌区"])
                ),
            }

    return asyncio.run(users())


def first_page(
    base: str, token: str, rounds: int, path: str = "/api/v1/incidents"
) -> dict[str, float]:
    """`rounds` GETs of `path` (the queue's first 50 incidents) on one connection."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    ms = []
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        client.get(path)  # the token's argon2 check is paid once
        for _ in range(rounds):
            started = time.perf_counter()
            answer = client.get(path, params={"limit": 50})
            ms.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text
            if path != "/healthz":
                assert len(answer.json()["items"]) == 50
    return quantiles(ms)


async def stream_latency(
    base: str, dsn: str, token: str, clients: int, changes: int
) -> dict[str, Any]:
    """`clients` streams; `changes` notes committed 20 a second; ms from each commit
    returning to its event arriving at each client."""
    received: list[dict[int, float]] = [{} for _ in range(clients)]
    ready = [asyncio.Event() for _ in range(clients)]
    headers = {"Authorization": f"Bearer {token}"}

    async def listen(k: int, client: httpx.AsyncClient) -> None:
        async with aconnect_sse(client, "GET", "/api/v1/stream", headers=headers) as source:
            async for sse in source.aiter_sse():
                if sse.event == "ready":
                    ready[k].set()
                elif sse.event == "change":
                    received[k][int(sse.id)] = time.perf_counter()

    limits = httpx.Limits(max_connections=clients + 5)
    timeout = httpx.Timeout(10, read=None)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as client:
        tasks = [asyncio.create_task(listen(k, client)) for k in range(clients)]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), 30)
        committed: dict[int, float] = {}
        dispatcher = Dispatcher(DispatchPolicy())  # a note sends nobody, but acts carry one
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            cur = await conn.execute(
                "SELECT a.id FROM alerts a JOIN incidents i ON i.id = a.incident_id"
                " WHERE i.status = 'open' LIMIT 1"
            )
            row = await cur.fetchone()
            assert row is not None
            for n in range(changes):
                request = lifecycle.Request(Action.NOTE, "bench", note=f"note {n}")
                change = await lifecycle.act(
                    conn=conn, alert_id=row[0], request=request, dispatcher=dispatcher
                )
                committed[change.audit_id] = time.perf_counter()
                await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    ms = [
        (got[event] - at) * 1000
        for got in received
        for event, at in committed.items()
        if event in got
    ]
    missing = clients * changes - len(ms)
    return {"clients": clients, "changes": changes, "missing": missing, **quantiles(ms)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--active", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="anxin-bench-alerts-") as tmp:
        work = Path(tmp)
        pg, broker = start_services(work, [])
        serve = None
        try:
            dsn = pg.dsn()
            tokens = seed(dsn, args.alerts, args.active)
            port = free_port()
            env = serve_env(dsn=dsn, mqtt_url=broker.url, http_port=port, client_id="bench-alerts")
            serve = start_serve(env, work / "serve.log")
            base = f"http://127.0.0.1:{port}"
            result = {
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "timescaledb": pg.timescaledb,
                },
                "alerts_in_table": args.alerts,
                "active_incidents": args.active,
                "first_page_of_open_incidents": {
                    # the same client and server answering /healthz: HTTP's own share
                    "floor_healthz": first_page(base, "", args.rounds, "/healthz"),
                    "operator": first_page(base, tokens["operator"], args.rounds),
                    "district_operator": first_page(base, tokens["district_operator"], args.rounds),
                    "target_p95_ms": 50,
                },
                "commit_to_sse_event": {
                    **asyncio.run(
                        stream_latency(base, dsn, tokens["operator"], args.clients, args.changes)
                    ),
                    "target_p99_ms": 200,
                },
            }
        finally:
            if serve is not None:
                stop_serve(serve)
            broker.stop()
            pg.stop("fast")
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
