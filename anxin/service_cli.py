"""`anxin serve`, `anxin db init`, `anxin gateway watch`, `anxin simulate` and
`anxin demo`: running Anxin, and what feeds it."""

import argparse
import asyncio
import json
import time
from typing import TYPE_CHECKING

import psycopg

from anxin import logs
from anxin.arg_types import Commands, port, positive_int, printed, rate
from anxin.db import apply_schema, check_database
from anxin.settings import Settings
from devices import service as devices
from devices.models import DeviceIn, DeviceKind, ResidentIn
from simulators.fleet import WearableFleet
from simulators.publisher import Publisher
from simulators.run import run_fleet, stderr_progress

if TYPE_CHECKING:  # the web stack is loaded by the commands that serve, not by every one
    import uvicorn
    from fastapi import FastAPI


def add_parsers(sub: Commands) -> None:
    sub.add_parser("serve", help="run ingest and the HTTP API").set_defaults(run=serve)

    gateway = sub.add_parser("gateway", help="protocol gateways for devices that cannot speak MQTT")
    gw_sub = gateway.add_subparsers(dest="gateway_command", required=True)
    gw_watch = gw_sub.add_parser(
        "watch", help='the TCP gateway for "3G" watches ([3G*ID*LEN*CONTENT] frames)'
    )
    gw_watch.add_argument("--host", default="0.0.0.0", help="address to listen on")
    gw_watch.add_argument("--port", type=port, default=5093)
    gw_watch.add_argument(
        "--idle", type=positive_int, default=900, help="close a watch silent this long (s)"
    )
    gw_watch.set_defaults(run=_watch_gateway)

    db = sub.add_parser("db", help="database tasks").add_subparsers(
        dest="db_command", required=True
    )
    init = db.add_parser("init", help="apply schema.sql (idempotent) and report the path taken")
    init.set_defaults(run=lambda settings, _args: printed(asyncio.run(db_init(settings))))

    sim = sub.add_parser("simulate", help="register a wearable fleet and publish over MQTT")
    sim.add_argument("--devices", type=positive_int, default=100)
    sim.add_argument("--rate", type=float, default=100.0, help="vitals messages per second")
    sim.add_argument("--duration", type=float, default=30.0, help="seconds")
    sim.add_argument("--sos-per-min", type=float, default=1.0)
    sim.add_argument("--prefix", default="sim")
    sim.set_defaults(run=_simulate)

    demo = sub.add_parser("demo", help="everything on embedded services, for a first look")
    demo.add_argument("--residents", type=positive_int, help="default 300 (--city: 3000)")
    demo.add_argument(
        "--city", action="store_true", help="a Wuhan-sized network: 465 service points"
    )
    demo.add_argument("--rate", type=float, default=50.0)
    demo.add_argument("--duration", type=float, default=0, help="stop after N s (0: Ctrl-C)")
    demo.add_argument(
        "--sos-per-min", type=rate, default=0.5,
        help="SOS presses a minute across the fleet (default 0.5; 0: none but the first)",
    )  # fmt: skip
    demo.set_defaults(run=_demo)


def http_server(settings: Settings, app: "FastAPI | None" = None) -> "uvicorn.Server":
    """The service (ingest + API) under uvicorn, logging through our own handlers."""
    import uvicorn

    from anxin.app import create_app

    app = app or create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    app.state.shutdown = lambda: setattr(server, "should_exit", True)  # graceful, as SIGTERM
    return server


def serve(settings: Settings, _args: argparse.Namespace | None = None) -> int:
    """Run until stopped; the exit status is 1 if a supervised task kept failing."""
    check_database(settings.database_dsn)  # one clear line, not 30 s and a traceback
    logs.configure(settings.log_level, settings.log_format)
    from anxin.app import create_app

    app = create_app(settings)
    http_server(settings, app).run()
    gave_up: str | None = app.state.supervisor.gave_up
    return 1 if gave_up else 0


async def db_init(settings: Settings) -> str:
    async with await psycopg.AsyncConnection.connect(settings.database_dsn) as conn:
        info = await apply_schema(conn=conn)
    return f"schema applied: {info.describe()}"


def _watch_gateway(settings: Settings, args: argparse.Namespace) -> int:
    from anxin.gateway_cli import run_watch_gateway

    return run_watch_gateway(settings, args)


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from anxin.demo import run_demo  # embedded services: loaded only for the demo

    return run_demo(settings, args)


async def register_fleet(settings: Settings, fleet: WearableFleet) -> None:
    residents = [
        ResidentIn(id=d.resident_id, name=f"Resident {d.resident_id}") for d in fleet.devices
    ]
    devs = [
        DeviceIn(id=d.id, kind=DeviceKind(d.kind), resident_id=d.resident_id) for d in fleet.devices
    ]
    async with await psycopg.AsyncConnection.connect(settings.database_dsn) as conn:
        await devices.add_residents(conn=conn, residents=residents)
        await devices.register_devices(conn=conn, devices=devs)


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    fleet = WearableFleet(args.devices, prefix=args.prefix)
    asyncio.run(register_fleet(settings, fleet))
    mqtt = settings.mqtt
    with Publisher(
        mqtt.host,
        mqtt.port,
        client_id=f"anxin-sim-{int(time.time())}",
        username=mqtt.username,
        password=mqtt.password,
        protocol=settings.mqtt_protocol,
    ) as pub:
        published = run_fleet(
            fleet,
            pub,
            rate=args.rate,
            duration=args.duration,
            sos_per_min=args.sos_per_min,
            progress=stderr_progress,
        )
    return printed(json.dumps({"published": published}))
