"""The `anxin` command: serve, db init, residents/devices add, simulate, demo."""

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import psycopg
from pydantic import ValidationError

from access.accounts import Language, Role
from alerts.detect.config import Overrides
from alerts.lifecycle import Action
from alerts.models import AlertStatus, Resolution
from anxin import __version__, devices_cli
from anxin.arg_types import positive_int, rate
from anxin.reports_cli import incident_kind, month
from anxin.settings import Settings, SettingsError, load_settings
from devices.models import CareFlag
from kernel.errors import AnxinError
from kernel.outage import why
from kernel.validation import describe


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anxin", description="Anxin elderly-care backend")
    parser.add_argument("--version", action="version", version=f"anxin {__version__}")
    parser.add_argument("--config", type=Path, help="TOML settings file (env vars win)")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("serve", help="run ingest and the HTTP API")

    gateway = sub.add_parser("gateway", help="protocol gateways for devices that cannot speak MQTT")
    gw_sub = gateway.add_subparsers(dest="gateway_command", required=True)
    gw_watch = gw_sub.add_parser(
        "watch", help='the TCP gateway for "3G" watches ([3G*ID*LEN*CONTENT] frames)'
    )
    gw_watch.add_argument("--host", default="0.0.0.0", help="address to listen on")
    gw_watch.add_argument("--port", type=_port, default=5093)
    gw_watch.add_argument(
        "--idle", type=positive_int, default=900, help="close a watch silent this long (s)"
    )

    db = sub.add_parser("db", help="database tasks").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("init", help="apply schema.sql (idempotent) and report the path taken")

    residents = sub.add_parser("residents", help="residents").add_subparsers(
        dest="residents_command", required=True
    )
    r_add = residents.add_parser(
        "add", help="add a resident, or change the given fields of one (the rest stay)"
    )
    r_add.add_argument("id")
    r_add.add_argument("--name")
    r_add.add_argument("--lat", type=float, dest="home_lat")
    r_add.add_argument("--lon", type=float, dest="home_lon")
    r_add.add_argument("--flag", action="append", dest="flags", choices=[f.value for f in CareFlag])
    for option, what in _PROFILE_OPTIONS.items():
        r_add.add_argument(f"--{option}", help=what, dest=option.replace("-", "_"))
    r_add.add_argument(
        "--contact",
        action="append",
        dest="contacts",
        type=_contact,
        metavar="NAME,RELATION,PHONE[,no-sms]",
        help="an emergency contact; repeat in calling order (replaces the stored ones)",
    )
    r_import = residents.add_parser(
        "import",
        help="add residents (or change those there) from CSV or JSON; bad rows reported by line",
    )
    r_import.add_argument("file", type=Path)
    r_show = residents.add_parser("show", help="a resident's profile and contacts, as JSON")
    r_show.add_argument("id")
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
    devices_cli.add_parsers(devices)

    users = sub.add_parser("users", help="API users and their tokens").add_subparsers(
        dest="users_command", required=True
    )
    u_add = users.add_parser(
        "add", help="add a user; prints the new token as the last line (shown only once)"
    )
    u_add.add_argument("name")
    u_add.add_argument("--role", required=True, choices=[r.value for r in Role])
    u_add.add_argument(
        "--district",
        action="append",
        default=[],
        dest="districts",
        help="limit an operator or supervisor to a district (repeatable)",
    )
    u_add.add_argument("--service-point", help="a service_point user's own point")
    u_add.add_argument("--phone", help="a caregiver's phone, as residents list it")
    u_add.add_argument("--language", choices=[lang.value for lang in Language], default="zh-CN")
    users.add_parser("list", help="every user, role, scope and whether disabled")
    for verb, says in [
        ("disable", "refuse the user's token and sessions from the next request"),
        ("enable", "accept the user's token again"),
        ("rotate", "a new token for the user (printed once); the old one stops at once"),
    ]:
        users.add_parser(verb, help=says).add_argument("name")

    al = sub.add_parser("alerts", help="the incident queue and its actions, from a terminal")
    al_sub = al.add_subparsers(dest="alerts_command", required=True)
    al_list = al_sub.add_parser("list", help="the queue: one line per incident, most urgent first")
    al_list.add_argument("--status", action="append", choices=[s.value for s in AlertStatus])
    al_list.add_argument("--limit", type=positive_int, default=50)
    al_list.add_argument("--json", action="store_true", help="one JSON object per line")
    al_list.add_argument("--lang", choices=["zh-CN", "en"], default="zh-CN", help="of reasons")
    al_show = al_sub.add_parser("show", help="one alert with its incident, resident and timeline")
    al_show.add_argument("alert_id", type=positive_int)
    al_show.add_argument("--lang", choices=["zh-CN", "en"], default="zh-CN", help="of reasons")
    for action in Action:
        act = al_sub.add_parser(str(action), help=f"{action} the incident of an alert")
        act.add_argument("alert_id", type=positive_int)
        act.add_argument("--note", required=action in (Action.RESOLVE, Action.NOTE))
        act.add_argument("--by", help="who does it, for the audit (default: cli:<login>)")
        if action is Action.RESOLVE:
            act.add_argument("--outcome", required=True, choices=[r.value for r in Resolution])
        if action is Action.ASSIGN:
            act.add_argument(
                "--point", help="the service point to ask (default: the nearest that can help)"
            )

    imp = sub.add_parser("import", help="service points and staff from a district's files")
    imp_sub = imp.add_subparsers(dest="import_command", required=True)
    imp_points = imp_sub.add_parser(
        "points", help="service points from CSV or GeoJSON; bad rows reported by line"
    )
    imp_points.add_argument("file", type=Path)
    imp_staff = imp_sub.add_parser("staff", help="on-call staff from CSV; bad rows by line")
    imp_staff.add_argument("file", type=Path)

    hooks = sub.add_parser("webhooks", help="integrators' endpoints for signed incident changes")
    hooks_sub = hooks.add_subparsers(dest="webhooks_command", required=True)
    hook_add = hooks_sub.add_parser("add", help="add or replace one; prints its signing secret")
    hook_add.add_argument("name")
    hook_add.add_argument("url")
    hook_add.add_argument("--secret", help="default: a new random one")
    hooks_sub.add_parser("list", help="name, URL, enabled")
    hook_rm = hooks_sub.add_parser("remove")
    hook_rm.add_argument("name")

    bots = sub.add_parser("bots", help="DingTalk and WeCom group robots that hear dispatches")
    bots_sub = bots.add_subparsers(dest="bots_command", required=True)
    bot_add = bots_sub.add_parser("add", help="add or replace one")
    bot_add.add_argument("name")
    bot_add.add_argument("url", help="the robot's webhook address, with its token or key")
    bot_add.add_argument("--kind", choices=["dingtalk", "wecom"], required=True)
    bot_add.add_argument("--secret", help="DingTalk's signing secret (SEC...)")
    whose = bot_add.add_mutually_exclusive_group(required=True)
    whose.add_argument("--point", help="the service point whose duty group it is")
    whose.add_argument("--supervisors", action="store_true", help="it tells of escalations")
    bot_add.add_argument("--lang", choices=["zh-CN", "en"], default="zh-CN")
    bots_sub.add_parser("list")
    bot_rm = bots_sub.add_parser("remove")
    bot_rm.add_argument("name")

    rep = sub.add_parser("report", help="the district's reports as HTML and CSV files")
    rep_sub = rep.add_subparsers(dest="report_command", required=True)
    cov = rep_sub.add_parser(
        "coverage", help="travel minutes from every resident to help, hour by hour of the week"
    )
    cov.add_argument(
        "--incident", type=incident_kind, default="sos",
        help="whose needs decide which points can help (default sos: emergency or nursing)",
    )  # fmt: skip
    beds = rep_sub.add_parser("care-beds", help="home care beds: met the month's standard?")
    beds.add_argument("--month", type=month, required=True, help="YYYY-MM")
    beds.add_argument("--min-online", type=_share, default=0.9, help="device online share")
    beds.add_argument("--max-p1-ack-s", type=float, default=60.0)
    beds.add_argument("--min-visits", type=int, default=1)
    beds.add_argument("--subsidy", type=int, default=300, help="yuan per bed and month")
    for report in (cov, beds):
        report.add_argument("--out", type=Path, default=Path("."), help="folder to write to")
        report.add_argument("--lang", choices=["zh-CN", "en"], default="zh-CN")

    sim = sub.add_parser("simulate", help="register a wearable fleet and publish over MQTT")
    sim.add_argument("--devices", type=positive_int, default=100)
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
    return parser


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


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        msg = f"expected a share from 0 to 1, e.g. 0.9; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        msg = f"expected a TCP port from 0 to 65535, got {text!r}"
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
        print(f"anxin: cannot reach the database: {why(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from anxin import commands

    match args.command:
        case "serve":
            return commands.serve(settings)
        case "gateway":
            from anxin.gateway_cli import run_watch_gateway

            return run_watch_gateway(settings, args)
        case "db":
            print(asyncio.run(commands.db_init(settings)))
        case "residents" if args.residents_command == "overrides":
            current = asyncio.run(commands.resident_overrides(settings, args))
            print(json.dumps(current, sort_keys=True))
        case "residents" if args.residents_command == "import":
            imported, problems = asyncio.run(commands.import_residents(settings, args.file))
            for line, problem in problems:
                print(f"{args.file}:{line}: {problem}", file=sys.stderr)
            print(f"imported {imported} residents; {len(problems)} rows refused")
            return 1 if problems else 0
        case "residents" if args.residents_command == "show":
            profile = asyncio.run(commands.show_resident(settings, args.id))
            print(json.dumps(profile.model_dump(mode="json"), ensure_ascii=False, indent=2))
        case "residents":
            resident = asyncio.run(commands.add_resident(settings, args))
            print(resident.model_dump_json())
        case "devices":
            print(asyncio.run(devices_cli.run(settings, args)))
        case "users":
            print(asyncio.run(commands.users(settings, args)))
        case "alerts":
            return commands.alerts_command(settings, args)
        case "import":
            what = "service points" if args.import_command == "points" else "staff"
            imported, problems = asyncio.run(commands.import_dispatch(settings, args))
            for line, problem in problems:
                print(f"{args.file}:{line}: {problem}", file=sys.stderr)
            print(f"imported {imported} {what}; {len(problems)} rows refused")
            return 1 if problems else 0
        case "bots":
            print(asyncio.run(commands.bots(settings, args)))
        case "webhooks":
            print(asyncio.run(commands.webhooks(settings, args)))
        case "report":
            from anxin import reports_cli

            if args.report_command == "coverage":
                print(asyncio.run(reports_cli.run_coverage(settings, args)))
            else:
                print(asyncio.run(reports_cli.run_care_beds(settings, args)))
        case "simulate":
            published = commands.simulate(settings, args)
            print(json.dumps({"published": published}))
        case "demo":
            from anxin.demo import run_demo

            return run_demo(settings, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
