"""`anxin residents add|import|show|overrides`: residents, their profiles and emergency
contacts, and each one's detector settings."""

import argparse
import asyncio
import json
import sys
from pathlib import Path

import psycopg

from alerts import overrides
from alerts.detect.config import Overrides
from anxin.arg_types import Commands, printed
from anxin.settings import Settings
from devices import service as devices
from devices.errors import UnknownResident
from devices.models import CareFlag, Resident, ResidentIn
from devices.residents_file import read_residents

_PROFILE_OPTIONS = {
    "phone": "the resident's own phone",
    "birth-date": "YYYY-MM-DD",
    "address": "home address",
    "district": "district (区)",
    "community": "community (社区)",
    "medical-notes": "conditions, medication",
    "allergies": "allergies",
    "mobility": "e.g. walks with a frame",
    "access-notes": "how to get in: key safe, a neighbour with a key",
    "language": "preferred language or dialect",
}


def add_parsers(sub: Commands) -> None:
    residents = sub.add_parser("residents", help="residents").add_subparsers(
        dest="residents_command", required=True
    )
    add = residents.add_parser(
        "add", help="add a resident, or change the given fields of one (the rest stay)"
    )
    add.add_argument("id")
    add.add_argument("--name")
    add.add_argument("--lat", type=float, dest="home_lat")
    add.add_argument("--lon", type=float, dest="home_lon")
    add.add_argument("--flag", action="append", dest="flags", choices=[f.value for f in CareFlag])
    for option, what in _PROFILE_OPTIONS.items():
        add.add_argument(f"--{option}", help=what, dest=option.replace("-", "_"))
    add.add_argument(
        "--contact",
        action="append",
        dest="contacts",
        type=_contact,
        metavar="NAME,RELATION,PHONE[,no-sms]",
        help="an emergency contact; repeat in calling order (replaces the stored ones)",
    )
    add.set_defaults(run=_add)
    imp = residents.add_parser(
        "import",
        help="add residents (or change those there) from CSV or JSON; bad rows reported by line",
    )
    imp.add_argument("file", type=Path)
    imp.set_defaults(run=_import)
    show = residents.add_parser("show", help="a resident's profile and contacts, as JSON")
    show.add_argument("id")
    show.set_defaults(run=_show)
    over = residents.add_parser(
        "overrides",
        help="show or change a resident's detector settings",
        description="Without changes, prints the resident's settings. KEY=VALUE sets one"
        " (a JSON value), KEY= removes it. Keys: " + ", ".join(Overrides.model_fields),
    )
    over.add_argument("id")
    over.add_argument("changes", nargs="*", metavar="KEY=VALUE", type=_setting)
    over.set_defaults(run=_overrides)


def _add(settings: Settings, args: argparse.Namespace) -> int:
    return printed(asyncio.run(add_resident(settings, args)).model_dump_json())


def _import(settings: Settings, args: argparse.Namespace) -> int:
    imported, problems = asyncio.run(import_residents(settings, args.file))
    for line, problem in problems:
        print(f"{args.file}:{line}: {problem}", file=sys.stderr)
    print(f"imported {imported} residents; {len(problems)} rows refused")
    return 1 if problems else 0


def _show(settings: Settings, args: argparse.Namespace) -> int:
    profile = asyncio.run(show_resident(settings, args.id))
    return printed(json.dumps(profile.model_dump(mode="json"), ensure_ascii=False, indent=2))


def _overrides(settings: Settings, args: argparse.Namespace) -> int:
    current = asyncio.run(resident_overrides(settings, args))
    return printed(json.dumps(current, sort_keys=True))


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


def _contact(text: str) -> dict[str, object]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] not in ("sms", "no-sms")):
        msg = f"expected NAME,RELATION,PHONE or NAME,RELATION,PHONE,no-sms; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    name, relation, phone = parts[:3]
    return {
        "name": name,
        "relation": relation or None,
        "phone": phone,
        "sms": parts[3:] != ["no-sms"],
    }


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
