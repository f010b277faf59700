"""`anxin users add|list|disable|enable|rotate`: the API's users and their tokens."""

import argparse
import asyncio
import json

import psycopg

from access import accounts
from access.accounts import Language, Role, UserIn
from anxin.arg_types import Commands, printed
from anxin.settings import Settings


def add_parsers(sub: Commands) -> None:
    users = sub.add_parser("users", help="API users and their tokens").add_subparsers(
        dest="users_command", required=True
    )
    add = users.add_parser(
        "add", help="add a user; prints the new token as the last line (shown only once)"
    )
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument(
        "--district",
        action="append",
        default=[],
        dest="districts",
        help="limit an operator or supervisor to a district (repeatable)",
    )
    add.add_argument("--service-point", help="a service_point user's own point")
    add.add_argument("--phone", help="a caregiver's phone, as residents list it")
    add.add_argument("--language", choices=[lang.value for lang in Language], default="zh-CN")
    users.add_parser("list", help="every user, role, scope and whether disabled")
    for verb, says in [
        ("disable", "refuse the user's token and sessions from the next request"),
        ("enable", "accept the user's token again"),
        ("rotate", "a new token for the user (printed once); the old one stops at once"),
    ]:
        users.add_parser(verb, help=says).add_argument("name")
    for each in users.choices.values():
        each.set_defaults(run=lambda settings, args: printed(asyncio.run(run(settings, args))))


async def run(settings: Settings, args: argparse.Namespace) -> str:
    """What to print (a new token last)."""
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
