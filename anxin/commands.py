"""What each CLI command does, on top of the domain services."""

import argparse
import asyncio
import json
import time
from pathlib import Path

import psycopg
import uvicorn
from fastapi import FastAPI

from access import accounts
from access.accounts import UserIn
from alerts import overrides
from anxin import logs
from anxin.app import create_app
from anxin.db import apply_schema, check_database
from anxin.settings import Settings
from devices import service as devices
from devices.errors import UnknownResident
from devices.models import DeviceIn, DeviceKind, Resident, ResidentIn
from devices.residents_file import read_residents
from dispatch import service as dispatch
from dispatch.notify import endpoints
from dispatch.points_file import read_points, read_staff
from kernel.rows import refuse
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
        info = await apply_schema(conn=conn)
    return f"schema applied: {info.describe()}"


async def add_resident(settings: Settings, args: argparse.Namespace) -> ResidentIn:
    """Add a resident, or change only the fields given of one already there."""
    given = {
        k: v
        for k, v in vars(args).items()
        if k in ResidentIn.model_fields and k != "id" and v is not None
    }
    async with await psycopg.AsyncConnection.connect(settings.database_dsn) as conn:
        try:
            stored = await devices.get_resident(conn=conn, resident_id=args.id)
            current = stored.model_dump(exclude={"contacts"})
        except UnknownResident:
            current = {"id": args.id}
        resident = ResidentIn.model_validate({**current, **given})
        await devices.add_residents(conn=conn, residents=[resident])
    return resident


async def import_residents(settings: Settings, path: Path) -> tuple[int, list[tuple[int, str]]]:
    parsed = read_residents(path)
    async with await psycopg.AsyncConnection.connect(settings.database_dsn) as conn:
        imported = await devices.add_residents(conn=conn, residents=parsed.good)
    return imported, parsed.problems


async def show_resident(settings: Settings, resident_id: str) -> Resident:
    async with await psycopg.AsyncConnection.connect(settings.database_dsn) as conn:
        return await devices.get_resident(conn=conn, resident_id=resident_id)


async def resident_overrides(settings: Settings, args: argparse.Namespace) -> dict[str, object]:
    async with await psycopg.AsyncConnection.connect(settings.database_dsn) as conn:
        if not args.changes:
            return await overrides.get_overrides(conn=conn, resident_id=args.id)
        return await overrides.set_overrides(
            conn=conn, resident_id=args.id, changes=dict(args.changes)
        )


async def users(settings: Settings, args: argparse.Namespace) -> str:
    """`anxin users add|list|disable|enable|rotate`: what to print (a new token last)."""
    async with await psycopg.AsyncConnection.connect(settings.database_dsn) as conn:
        match args.users_command:
            case "add":
                user = UserIn(
                    name=args.name,
                    role=args.role,
                    districts=args.districts,
                    service_point_id=args.service_point,
                    phone=args.phone,
                    language=args.language,
                )
                token = await accounts.add_user(conn=conn, user=user)
                return f"user {user.name} added ({user.role}); token:\n{token}"
            case "rotate":
                token = await accounts.rotate_token(conn=conn, name=args.name)
                return f"user {args.name}: a new token; the old one no longer works:\n{token}"
            case "disable" | "enable":
                off = args.users_command == "disable"
                await accounts.set_disabled(conn=conn, name=args.name, disabled=off)
                return f"user {args.name} {'disabled' if off else 'enabled'}"
            case _:
                listed = await accounts.list_users(conn=conn)
                return "\n".join(json.dumps(u, ensure_ascii=False) for u in listed)


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


def alerts_command(settings: Settings, args: argparse.Namespace) -> int:
    from anxin import alerts_cli

    print(asyncio.run(alerts_cli.run(settings, args)))
    return 0


async def import_dispatch(
    settings: Settings, args: argparse.Namespace
) -> tuple[int, list[tuple[int, str]]]:
    """`anxin import points|staff FILE`: the good rows in, the bad ones by line."""
    async with await psycopg.AsyncConnection.connect(settings.database_dsn) as conn:
        if args.import_command == "points":
            points = read_points(args.file)
            return await dispatch.add_service_points(conn=conn, points=points.good), (
                points.problems
            )
        staff = read_staff(args.file)
        known = await dispatch.known_points(conn=conn)
        refuse(
            staff,
            lambda s: None if s.point_id in known else f"没有服务点 {s.point_id!r}",
        )
        return await dispatch.add_staff(conn=conn, staff=staff.good), staff.problems


async def webhooks(settings: Settings, args: argparse.Namespace) -> str:
    """`anxin webhooks add|list|remove`: what to print."""
    async with await psycopg.AsyncConnection.connect(
        settings.database_dsn, autocommit=True
    ) as conn:
        if args.webhooks_command == "add":
            secret = await endpoints.add_webhook(
                conn=conn, name=args.name, url=args.url, secret=args.secret
            )
            return f"webhook {args.name} -> {args.url}; signing secret:\n{secret}"
        if args.webhooks_command == "remove":
            await endpoints.remove_webhook(conn=conn, name=args.name)
            return f"webhook {args.name} removed"
        found = await endpoints.list_webhooks(conn=conn)
        return (
            "\n".join(f"{w.name}\t{w.url}\t{'enabled' if w.enabled else 'disabled'}" for w in found)
            or "no webhooks"
        )


async def bots(settings: Settings, args: argparse.Namespace) -> str:
    """`anxin bots add|list|remove`: what to print."""
    async with await psycopg.AsyncConnection.connect(
        settings.database_dsn, autocommit=True
    ) as conn:
        if args.bots_command == "add":
            await endpoints.add_bot(
                conn=conn, name=args.name, kind=args.kind, url=args.url, secret=args.secret,
                point_id=args.point, supervisors=args.supervisors, lang=args.lang,
            )  # fmt: skip
            return f"{args.kind} robot {args.name} added"
        if args.bots_command == "remove":
            await endpoints.remove_bot(conn=conn, name=args.name)
            return f"robot {args.name} removed"
        found = await endpoints.list_bots(conn=conn)
        return (
            "\n".join(
                f"{b.name}\t{b.kind}\t{b.point_id or ('supervisors' if b.supervisors else '')}"
                for b in found
            )
            or "no robots"
        )
