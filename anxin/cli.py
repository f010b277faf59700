"""The `anxin` command: serve, db init, residents/devices add, simulate, demo."""

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import psycopg
from pydantic import ValidationError

from alerts.detect.config import Overrides
from anxin import __version__
from anxin.settings import Settings, SettingsError, load_settings
from devices.models import CareFlag, DeviceKind
from kernel.db import first_line
from kernel.errors import AnxinError, describe


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anxin", description="Anxin elderly-care backend")
    parser.add_argument("--version", action="version", version=f"anxin {__version__}")
    parser.add_argument("--config", type=Path, help="TOML settings file (env vars win)")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("serve", help="run ingest and the HTTP API")

    db = sub.add_parser("db", help="database tasks").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("init", help="apply schema.sql (idempotent) and report the path taken")

    residents = sub.add_parser("residents", help="residents").add_subparsers(
        dest="residents_command", required=True
    )
    r_add = residents.add_parser("add", help="add or update a resident")
    r_add.add_argument("id")
    r_add.add_argument("--name", required=True)
    r_add.add_argument("--lat", type=float)
    r_add.add_argument("--lon", type=float)
    r_add.add_argument(
        "--flag", action="append", default=[], dest="flags", choices=[f.value for f in CareFlag]
    )
    r_over = residents.add_parser(
        "overrides",
        help="show or change a resident's detector settings",
        description="Without changes, prints the resident's settings. KEY=VALUE sets one"
        " (a JSON value), KEY= removes it. Keys: " + ", ".join(Overrides.model_fields),
    )
    r_over.add_argument("id")
    r_over.add_argument("changes", nargs="*", metavar="KEY=VALUE", type=_setting)

    devices = sub.add_parser("devices", help="devices").add_subparsers(
        dest="devices_command", required=True
    )
    d_add = devices.add_parser("add", help="register a device")
    d_add.add_argument("id")
    d_add.add_argument("--kind", required=True, choices=[k.value for k in DeviceKind])
    d_add.add_argument("--resident")
    d_add.add_argument("--interval", type=_positive_int, help="expected seconds between messages")

    sim = sub.add_parser("simulate", help="register a wearable fleet and publish over MQTT")
    sim.add_argument("--devices", type=_positive_int, default=100)
    sim.add_argument("--rate", type=float, default=100.0, help="vitals messages per second")
    sim.add_argument("--duration", type=float, default=30.0, help="seconds")
    sim.add_argument("--sos-per-min", type=float, default=1.0)
    sim.add_argument("--prefix", default="sim")

    ev = sub.add_parser("evaluate", help="replay labelled scenarios through the detector")
    which = ev.add_mutually_exclusive_group(required=True)
    which.add_argument("scenario", nargs="?", help="a shipped scenario name or a .toml file")
    which.add_argument("--suite", help="every scenario of a shipped suite, e.g. 'default'")
    ev.add_argument("--step", type=float, default=30.0, help="replay step, scenario seconds")
    ev.add_argument("--plot", type=Path, default=None, help="write a PNG of detection delays")
    ev.add_argument(
        "--check", action="store_true", help="exit 1 unless the detection targets are met"
    )

    demo = sub.add_parser("demo", help="everything on embedded services, for a first look")
    demo.add_argument("--residents", type=_positive_int, default=300)
    demo.add_argument("--rate", type=float, default=50.0)
    demo.add_argument("--duration", type=float, default=0, help="stop after N s (0: Ctrl-C)")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"expected a whole number of at least 1, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _setting(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        msg = f"expected KEY=VALUE, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    if value == "":
        return key, None
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value  # a bare word is a string


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "evaluate":  # in process, on scenario time: needs no settings
        from anxin.evaluate import run

        return run(args)
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"anxin: {exc}", file=sys.stderr)
        return 2
    try:
        return _dispatch(args, settings)
    except AnxinError as exc:
        print(f"anxin: {exc}", file=sys.stderr)
        return 1
    except ValidationError as exc:  # a value the domain's schema refuses
        print(f"anxin: {describe(exc)}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as exc:
        print(f"anxin: cannot reach the database: {first_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from anxin import commands

    match args.command:
        case "serve":
            return commands.serve(settings)
        case "db":
            print(asyncio.run(commands.db_init(settings)))
        case "residents" if args.residents_command == "overrides":
            current = asyncio.run(commands.resident_overrides(settings, args))
            print(json.dumps(current, sort_keys=True))
        case "residents":
            resident = asyncio.run(commands.add_resident(settings, args))
            print(resident.model_dump_json())
        case "devices":
            device = asyncio.run(commands.add_device(settings, args))
            print(device.model_dump_json())
        case "simulate":
            published = commands.simulate(settings, args)
            print(json.dumps({"published": published}))
        case "demo":
            from anxin.demo import run_demo

            return run_demo(settings, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
