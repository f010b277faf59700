"""Webhook endpoints, managed from the CLI (`anxin webhooks add|list|remove`)."""

import secrets
from dataclasses import dataclass

from psycopg import AsyncConnection, errors

from kernel.errors import Invalid, NotFound


@dataclass(frozen=True)
class Webhook:
    name: str
    url: str
    enabled: bool


async def add_webhook(
    *, conn: AsyncConnection, name: str, url: str, secret: str | None = None
) -> str:
    """Add (or replace) an endpoint; returns its signing secret (made here if none is
    given), to be set on the receiving side."""
    secret = secret or secrets.token_urlsafe(32)
    try:
        await conn.execute(
            "INSERT INTO webhooks (name, url, secret) VALUES (%s, %s, %s) ON CONFLICT (name)"
            " DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret, enabled = true",
            (name, url, secret),
        )
    except errors.CheckViolation as exc:
        msg = (
            "a webhook needs a name of letters, digits, '_', '.', '-' (at most 64),"
            " an http(s) URL and a secret of at least 16 characters"
        )
        raise Invalid(msg) from exc
    return secret


async def list_webhooks(*, conn: AsyncConnection) -> list[Webhook]:
    cur = await conn.execute("SELECT name, url, enabled FROM webhooks ORDER BY name")
    return [Webhook(*r) for r in await cur.fetchall()]


async def remove_webhook(*, conn: AsyncConnection, name: str) -> None:
    cur = await conn.execute("DELETE FROM webhooks WHERE name = %s", (name,))
    if cur.rowcount == 0:
        msg = f"no webhook named {name!r}"
        raise NotFound(msg)


@dataclass(frozen=True)
class ChatBot:
    name: str
    kind: str
    url: str
    point_id: str | None
    supervisors: bool


async def add_bot(
    *,
    conn: AsyncConnection,
    name: str,
    kind: str,
    url: str,
    secret: str | None,
    point_id: str | None,
    supervisors: bool,
    lang: str,
) -> None:
    """Add (or replace) a group robot: a point's duty group, or the supervisors'."""
    try:
        await conn.execute(
            "INSERT INTO chat_bots (name, kind, url, secret, point_id, supervisors, lang)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET"
            " kind = EXCLUDED.kind, url = EXCLUDED.url, secret = EXCLUDED.secret,"
            " point_id = EXCLUDED.point_id, supervisors = EXCLUDED.supervisors,"
            " lang = EXCLUDED.lang",
            (name, kind, url, secret, point_id, supervisors, lang),
        )
    except errors.ForeignKeyViolation as exc:
        msg = f"unknown service point {point_id!r}"
        raise Invalid(msg) from exc
    except errors.CheckViolation as exc:
        msg = (
            "a robot needs a name of letters, digits, '_', '.', '-' (at most 64), a kind"
            " (dingtalk or wecom) and an http(s) URL"
        )
        raise Invalid(msg) from exc


async def list_bots(*, conn: AsyncConnection) -> list[ChatBot]:
    cur = await conn.execute(
        "SELECT name, kind, url, point_id, supervisors FROM chat_bots ORDER BY name"
    )
    return [ChatBot(*r) for r in await cur.fetchall()]


async def remove_bot(*, conn: AsyncConnection, name: str) -> None:
    cur = await conn.execute("DELETE FROM chat_bots WHERE name = %s", (name,))
    if cur.rowcount == 0:
        msg = f"no robot named {name!r}"
        raise NotFound(msg)
