"""`anxin alerts`: the queue and its actions from a terminal, as an admin would see
them through the API, each action audited under the name given with --by."""

import argparse
import asyncio
import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from access.accounts import Principal, Role
from alerts import lifecycle, queries
from alerts.lifecycle import Action
from alerts.models import AlertStatus, Resolution
from alerts.reasons import Lang
from anxin.arg_types import Commands, positive_int, printed
from anxin.policies import dispatcher
from anxin.settings import Settings


def add_parsers(sub: Commands) -> None:
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
    al.set_defaults(run=lambda settings, args: printed(asyncio.run(run(settings, args))))

    ev = sub.add_parser("evaluate", help="replay labelled scenarios through the detector")
    which = ev.add_mutually_exclusive_group(required=True)
    which.add_argument("scenario", nargs="?", help="a shipped scenario name or a .toml file")
    which.add_argument("--suite", help="every scenario of a shipped suite, e.g. 'default'")
    ev.add_argument("--step", type=float, default=30.0, help="replay step, scenario seconds")
    ev.add_argument("--plot", type=Path, default=None, help="write a PNG of detection delays")
    ev.add_argument(
        "--check", action="store_true", help="exit 1 unless the detection targets are met"
    )
    # in process, on scenario time: it needs no settings, no database, no broker
    ev.set_defaults(run=None, offline=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from anxin.evaluate import run as evaluate

    return evaluate(args)


async def run(settings: Settings, args: argparse.Namespace) -> str:
    """What to print."""
    async with await psycopg.AsyncConnection.connect(
        settings.database_dsn, autocommit=True
    ) as conn:
        if args.alerts_command == "list":
            return await _list(conn, args)
        admin = Principal(
            name=args.__dict__.get("by") or f"cli:{getpass.getuser()}", role=Role.ADMIN
        )
        if args.alerts_command == "show":
            alert = await queries.get_alert(conn=conn, user=admin, alert_id=args.alert_id)
            queries.explain_all([alert], Lang(args.lang))
            return _json(alert, indent=2)
        action = Action(args.alerts_command)
        change = await lifecycle.act(
            conn=conn,
            alert_id=args.alert_id,
            request=lifecycle.Request(
                action=action,
                actor=admin.name,
                note=args.note,
                outcome=Resolution(args.outcome) if action is Action.RESOLVE else None,
                service_point_id=args.point if action is Action.ASSIGN else None,
            ),
            dispatcher=dispatcher(settings),
        )
        return (
            f"incident {change.incident_id}: {change.from_status} -> {change.to_status}"
            f" (event {change.audit_id})"
        )


async def _list(conn: psycopg.AsyncConnection, args: argparse.Namespace) -> str:
    statuses = [AlertStatus(s) for s in args.status] if args.status else None
    page = await queries.list_incidents(
        conn=conn,
        user=Principal(name="cli", role=Role.ADMIN),
        filters=queries.Filters(statuses=statuses),
        limit=args.limit,
    )
    queries.explain_all(page.items, Lang(args.lang))
    if args.json:
        return "\n".join(_json(i) for i in page.items)
    if not page.items:
        return "no incidents"
    now = datetime.now(UTC)
    return "\n".join(_line(i, now) for i in page.items)


def _line(incident: dict[str, Any], now: datetime) -> str:
    age = int((now - incident["opened_at"]).total_seconds())
    who = incident["resident_name"] or incident["device_id"]
    alerts = "; ".join(
        f"#{a['id']} {a.get('reason_text') or a['rule']}"
        + (f" x{a['count']}" if a["count"] > 1 else "")
        for a in incident["alerts"] or []
    )
    return (
        f"{incident['severity']}  incident {incident['id']:<6} {incident['status_text']:<8}"
        f" {age // 60:>4}m{age % 60:02d}s  {who}  {incident['district'] or ''}  [{alerts}]"
    )


def _json(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, indent=indent)
