"""`anxin devices ...`: register devices with their MQTT accounts, bind them to
residents, and write the broker's accounts and rules (export-mosquitto)."""

import argparse
import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

import psycopg

from anxin.arg_types import Commands, positive_int, printed
from anxin.broker_files import BrokerFiles
from anxin.settings import Settings
from devices import health, mqtt_access
from devices import service as devices
from devices.devices_file import read_devices
from devices.models import DeviceIn, DeviceKind, Protocol
from kernel.errors import Invalid
from kernel.language import Lang
from kernel.os_words import os_reason


def add_parsers(sub: Commands) -> None:
    group = sub.add_parser("devices", help="devices")
    group.set_defaults(run=lambda settings, args: printed(asyncio.run(run(settings, args))))
    devices_parser = group.add_subparsers(dest="devices_command", required=True)
    add = devices_parser.add_parser(
        "add", help="register a device; a new MQTT account's password is printed once"
    )
    add.add_argument("id")
    add.add_argument("--kind", required=True, choices=[k.value for k in DeviceKind])
    add.add_argument("--protocol", choices=[p.value for p in Protocol], default="canonical")
    add.add_argument("--name", help="its Zigbee2MQTT friendly name, or OwnTracks user/device")
    add.add_argument(
        "--account", help="the MQTT account that speaks for it (default: its id); a home's"
        " Zigbee2MQTT speaks for all that home's sensors",
    )  # fmt: skip
    add.add_argument("--resident")
    add.add_argument("--interval", type=positive_int, help="expected seconds between messages")
    imp = devices_parser.add_parser(
        "import", help="register the devices of a CSV or JSON file, all or none"
    )
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--passwords", type=Path, required=True,
        help="where new MQTT accounts' passwords are written (CSV, readable by you only)",
    )  # fmt: skip
    bind = devices_parser.add_parser("bind", help="give a device to a resident")
    bind.add_argument("id")
    who = bind.add_mutually_exclusive_group(required=True)
    who.add_argument("--resident")
    who.add_argument("--unbind", action="store_true", help="to nobody (back in stock)")
    pw = devices_parser.add_parser("password", help="a new password for an MQTT account")
    pw.add_argument("account")
    hl = devices_parser.add_parser(
        "health", help="maintenance tasks: never connected, SOS untested, battery running out"
    )
    hl.add_argument("--district", action="append", dest="districts")
    hl.add_argument("--lang", choices=[lang.value for lang in Lang], default="zh-CN")
    hl.add_argument("--json", action="store_true", help="one JSON object per line")
    export = devices_parser.add_parser(
        "export-mosquitto",
        help="write the broker's accounts and rules (Mosquitto dynamic security)",
    )
    export.add_argument("--out", type=Path, default=Path("var/mosquitto"))
    export.add_argument("--broker-user", default="mosquitto", help="who the broker runs as")
    export.add_argument(
        "--listener", default="1883", help="Mosquitto's listener: 'PORT' or 'PORT ADDRESS'"
    )
    export.add_argument(
        "--data", type=Path, default=Path("/var/lib/mosquitto"), help="the broker's persistence"
    )


def service_client_ids(settings: Settings) -> set[str]:
    ingest = settings.mqtt_client_id
    return {ingest, f"{ingest}-events", settings.gateway_client_id}


async def run(settings: Settings, args: argparse.Namespace) -> str:
    async with await psycopg.AsyncConnection.connect(settings.database_dsn) as conn:
        match args.devices_command:
            case "add":
                return await _add(conn, settings, args)
            case "import":
                return await _import(conn, settings, args)
            case "bind":
                resident = None if args.unbind else args.resident
                bound = await devices.bind_device(
                    conn=conn, device_id=args.id, resident_id=resident
                )
                return bound.model_dump_json()
            case "password":
                password = await mqtt_access.reset_password(conn=conn, name=args.account)
                if password is None:
                    msg = f"no MQTT account {args.account!r}"
                    raise Invalid(msg)
                return (
                    f"new password of {args.account} (shown only once; export again):\n{password}"
                )
            case "health":
                tasks = await health.maintenance_tasks(
                    conn=conn, now=datetime.now(UTC), thresholds=settings.maintenance,
                    districts=args.districts, lang=Lang(args.lang),
                    tz=ZoneInfo(settings.time_zone),
                )  # fmt: skip
                if args.json:
                    return "\n".join(t.model_dump_json() for t in tasks)
                lines = [
                    f"{t.device_id}\t{t.kind}\t{t.resident_id or '-'}\t{t.text}" for t in tasks
                ]
                return "\n".join(lines) or (
                    "没有待办的维护任务" if args.lang == "zh-CN" else "no tasks"
                )
            case _:
                files = BrokerFiles(
                    out=args.out, user=args.broker_user, listener=args.listener, data=args.data
                )
                return await _export(conn, settings, files)


async def _add(conn: psycopg.AsyncConnection, settings: Settings, args: argparse.Namespace) -> str:
    device = DeviceIn(
        id=args.id, kind=args.kind, protocol=args.protocol, name=args.name,
        account=args.account, resident_id=args.resident, expected_interval_s=args.interval,
    )  # fmt: skip
    passwords = await devices.provision_devices(
        conn=conn, devices=[device], reserved=service_client_ids(settings)
    )
    stored = await devices.get_device(conn=conn, device_id=device.id)
    lines = [stored.model_dump_json()]
    for account, password in passwords.items():
        lines += [f"MQTT account {account}; its password (shown only once):", password]
    return "\n".join(lines)


async def _import(
    conn: psycopg.AsyncConnection, settings: Settings, args: argparse.Namespace
) -> str:
    parsed = read_devices(args.file)
    if parsed.problems:
        where = "; ".join(f"{args.file}:{line}: {what}" for line, what in parsed.problems[:20])
        msg = f"{len(parsed.problems)} rows refused, nothing imported: {where}"
        raise Invalid(msg)
    # opened first: passwords of accounts made but written nowhere could never be shown
    out = _private_file(args.passwords, new=True)
    try:
        passwords = await devices.provision_devices(
            conn=conn, devices=parsed.good, reserved=service_client_ids(settings)
        )
    except BaseException:
        out.close()
        args.passwords.unlink()
        raise
    with out:
        out.write("account,password\n")
        out.writelines(f"{a},{p}\n" for a, p in passwords.items())
    return (
        f"imported {len(parsed.good)} devices; {len(passwords)} new MQTT accounts,"
        f" their passwords in {args.passwords}"
    )


async def _export(conn: psycopg.AsyncConnection, settings: Settings, files: BrokerFiles) -> str:
    mqtt = settings.mqtt
    if not mqtt.username or not mqtt.password:
        msg = (
            "ANXIN_MQTT_URL has no user and password (mqtt://user:password@host):"
            " the Anxin service's own broker account is made from them"
        )
        raise Invalid(msg)
    speakers = await mqtt_access.speakers(conn=conn)
    clash = {d.account for d in speakers} & (service_client_ids(settings) | {mqtt.username})
    if clash:
        msg = f"device accounts {sorted(clash)} are Anxin's own client ids or account; rename them"
        raise Invalid(msg)
    service = mqtt_access.ServiceAccount(
        mqtt.username, mqtt.password, settings.zigbee2mqtt_base_topic
    )
    config = mqtt_access.dynamic_security(
        speakers, await mqtt_access.account_hashes(conn=conn), service
    )
    written = files.write(mqtt_access.dynamic_security_json(config))
    return f"{len(config['clients'])} accounts; {written}"


def _private_file(path: Path, *, new: bool = False) -> TextIO:
    """A file only its owner reads (passwords, their hashes); `new`: never one that
    exists. A path that cannot be written is one line, not a traceback."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if new else os.O_TRUNC)
    try:
        return os.fdopen(os.open(path, flags, 0o600), "w")
    except FileExistsError:
        msg = f"{path} exists: passwords are never written over; name a new file"
        raise Invalid(msg) from None
    except OSError as exc:
        msg = f"cannot write {str(path)!r}: {os_reason(exc)}"
        raise Invalid(msg) from exc
