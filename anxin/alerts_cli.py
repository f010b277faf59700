"""`anxin alerts`: the queue and its actions from a terminal, as an admin would see
them through the API, each action audited under the name given with --by."""

import argparse
import getpass
import json
from datetime import UTC, datetime
from typing import Any

import psycopg

from access.accounts import Principal, Role
from alerts import lifecycle, queries
from alerts.lifecycle import Action
from alerts.models import AlertStatus, Resolution
from alerts.reasons import Lang
from anxin.policies import dispatcher
from anxin.settings import Settings


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
