"""`anxin import points|staff`, `anxin webhooks` and `anxin bots`: the district's
service points and on-call staff, and the endpoints that hear of incidents."""

import argparse
import asyncio
import sys
from pathlib import Path

import psycopg

from anxin.arg_types import Commands, printed
from anxin.settings import Settings
from dispatch import service as dispatch
from dispatch.notify import endpoints
from dispatch.points_file import read_points, read_staff
from kernel.rows import refuse


def add_parsers(sub: Commands) -> None:
    imp = sub.add_parser("import", help="service points and staff from a district's files")
    imp_sub = imp.add_subparsers(dest="import_command", required=True)
    points = imp_sub.add_parser(
        "points", help="service points from CSV or GeoJSON; bad rows reported by line"
    )
    points.add_argument("file", type=Path)
    staff = imp_sub.add_parser("staff", help="on-call staff from CSV; bad rows by line")
    staff.add_argument("file", type=Path)
    imp.set_defaults(run=_import)

    hooks = sub.add_parser("webhooks", help="integrators' endpoints for signed incident changes")
    hooks_sub = hooks.add_subparsers(dest="webhooks_command", required=True)
    hook_add = hooks_sub.add_parser("add", help="add or replace one; prints its signing secret")
    hook_add.add_argument("name")
    hook_add.add_argument("url")
    hook_add.add_argument("--secret", help="default: a new random one")
    hooks_sub.add_parser("list", help="name, URL, enabled")
    hooks_sub.add_parser("remove").add_argument("name")
    hooks.set_defaults(run=lambda settings, args: printed(asyncio.run(webhooks(settings, args))))

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
    bots_sub.add_parser("remove").add_argument("name")
    bots.set_defaults(run=lambda settings, args: printed(asyncio.run(bots_command(settings, args))))


def _import(settings: Settings, args: argparse.Namespace) -> int:
    what = "service points" if args.import_command == "points" else "staff"
    imported, problems = asyncio.run(import_dispatch(settings, args))
    for line, problem in problems:
        print(f"{args.file}:{line}: {problem}", file=sys.stderr)
    print(f"imported {imported} {what}; {len(problems)} rows refused")
    return 1 if problems else 0


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


async def bots_command(settings: Settings, args: argparse.Namespace) -> str:
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
