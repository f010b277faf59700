"""What each CLI command does, on top of the domain services."""

import argparse
import time

import psycopg
import uvicorn
from fastapi import FastAPI

from alerts import overrides
from anxin import logs
from anxin.app import create_app
from anxin.db import apply_schema, check_database
from anxin.settings import Settings
from devices import service as devices
from devices.models import Device, DeviceIn, DeviceKind, ResidentIn
from simulators.fleet import WearableFleet
from simulators.publisher import Publisher
from simulators.run import run_fleet, stderr_progress


def http_server(settings: Settings, app: FastAPI | None = None) -> uvicorn.Server:
    """The service (ingest + API) under uvicorn, logging through our own handlers."""
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


def serve(settings: Settings) -> int:
    """Run until stopped; the exit status is 1 if a supervised task kept failing."""
    check_database(settings.database_dsn)  # one clear line, not 30 s and a traceback
    logs.configure(settings.log_level, settings.log_format)
    app = create_app(settings)
    http_server(settings, app).run()
    gave_up: str | None = app.state.supervisor.gave_up
    return 1 if gave_up else 0


async def db_init(settings: Settings) -> str:
    async with await psycopg.AsyncConnection.connect(settings.database_dsn) as conn:
        info = await apply_schema(conn)
    return f"schema applied: {info.describe()}"


async def add_resident(settings: Settings, args: argparse.Namespace) -> ResidentIn:
    resident = ResidentIn(
        id=args.id, name=args.name, home_lat=args.lat, home_lon=args.lon, flags=args.flags
    )
    async with await psycopg.AsyncConnection.connect(settings.database_dsn) as conn:
        await devices.add_residents(conn=conn, residents=[resident])
    return resident


async def resident_overrides(settings: Settings, args: argparse.Namespace) -> dict[str, object]:
    async with await psycopg.AsyncConnection.connect(settings.database_dsn) as conn:
        if not args.changes:
            return await overrides.get_overrides(conn=conn, resident_id=args.id)
        return await overrides.set_overrides(
            conn=conn, resident_id=args.id, changes=dict(args.changes)
        )


async def add_device(settings: Settings, args: argparse.Namespace) -> Device:
    device = DeviceIn(
        id=args.id,
        kind=DeviceKind(args.kind),
        resident_id=args.resident,
        expected_interval_s=args.interval,
    )
    async with await psycopg.AsyncConnection.connect(settings.database_dsn) as conn:
        return await devices.register_device(conn=conn, device=device)


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


def simulate(settings: Settings, args: argparse.Namespace) -> dict[str, int]:
    import asyncio

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
        return run_fleet(
            fleet,
            pub,
            rate=args.rate,
            duration=args.duration,
            sos_per_min=args.sos_per_min,
            progress=stderr_progress,
        )
