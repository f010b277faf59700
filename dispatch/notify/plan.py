"""Who is told what, queued in the caller's transaction (the change's own):
- the asked point: its on-call people on shift by SMS, and its duty group's robots;
- the supervisors (the phones alerts found for the incident's district) by SMS, and
  the supervisors' robots, on escalation and when no point can take an incident;
- the resident's family (contacts who may receive SMS), when alerts says so.
Message bodies are a template name and its parameters (dispatch.notify.sms); the
resident's name is filled in here from the resident directory (devices).
"""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from dispatch.models import WeekHours


def _body(template: str, params: dict[str, Any]) -> str:
    return json.dumps({"template": template, "params": params}, ensure_ascii=False)


async def tell_family(
    *,
    conn: AsyncConnection,
    incident_id: int,
    resident_id: str,
    template: str,
    params: dict[str, Any],
) -> None:
    """The resident's contacts who may receive SMS, in calling order, each text naming
    the resident."""
    await conn.execute(
        """
        INSERT INTO outbox (incident_id, channel, recipient, body)
        SELECT %s, 'sms', c.phone, jsonb_set(%s::jsonb, '{params,who}', to_jsonb(r.name))
        FROM resident_directory r JOIN contact_directory c ON c.resident_id = r.id
        WHERE r.id = %s AND c.sms ORDER BY c.position
        """,
        (incident_id, _body(template, params), resident_id),
    )


async def tell_supervisors(
    *,
    conn: AsyncConnection,
    incident_id: int,
    phones: Sequence[str],
    template: str,
    params: dict[str, Any],
) -> None:
    """The supervisors at these phones by SMS, and the supervisors' robots."""
    await conn.execute(
        """
        INSERT INTO outbox (incident_id, channel, recipient, body)
        SELECT %(id)s, 'sms', phone, %(body)s::jsonb FROM unnest(%(phones)s::text[]) phone
        UNION ALL
        SELECT %(id)s, b.kind, b.name, %(body)s::jsonb FROM chat_bots b WHERE b.supervisors
        """,
        {"body": _body(template, params), "id": incident_id, "phones": list(phones)},
    )


async def tell_point(
    *,
    conn: AsyncConnection,
    incident_id: int | None,
    point_id: str,
    params: dict[str, Any],
    at: datetime,
    template: str = "dispatch",
) -> int:
    """The point's on-call people on shift at `at` (local time) who take SMS, and the
    point's robots; returns how many messages were queued."""
    cur = await conn.execute(
        "SELECT phone, shifts FROM service_point_staff"
        " WHERE point_id = %s AND on_call AND 'sms' = ANY(channels)",
        (point_id,),
    )
    phones = [
        p for p, shifts in await cur.fetchall() if WeekHours.model_validate(shifts).open_at(at)
    ]
    cur = await conn.execute(
        "SELECT kind, name FROM chat_bots WHERE point_id = %s ORDER BY name", (point_id,)
    )
    recipients = [("sms", p) for p in phones] + [(k, n) for k, n in await cur.fetchall()]
    body = _body(template, params)
    async with conn.cursor() as c:
        await c.executemany(
            "INSERT INTO outbox (incident_id, channel, recipient, body) VALUES (%s, %s, %s, %s)",
            [(incident_id, channel, to, body) for channel, to in recipients],
        )
    return len(recipients)


async def tell_next_staff(
    *, conn: AsyncConnection, incident_id: int, point_id: str, body: dict[str, Any], at: datetime
) -> str | None:
    """The dispatch text again, to the point's next staff member not yet sent it since
    its offer (on shift at `at` first, then on call, then by id), when one did not get
    through; returns their name, or None with nobody left."""
    cur = await conn.execute(
        """
        SELECT s.name, s.phone, s.shifts, s.on_call FROM service_point_staff s
        WHERE s.point_id = %s AND 'sms' = ANY(s.channels) AND NOT EXISTS (
            SELECT 1 FROM outbox m JOIN dispatch_offers o ON o.incident_id = m.incident_id
                AND o.status = 'offered' AND m.created_at >= o.offered_at
            WHERE m.incident_id = %s AND m.channel = 'sms' AND m.recipient = s.phone
              AND m.body->>'template' = 'dispatch')
        ORDER BY s.id
        """,
        (point_id, incident_id),
    )
    staff = [
        (not WeekHours.model_validate(shifts).open_at(at), not on_call, name, phone)
        for name, phone, shifts, on_call in await cur.fetchall()
    ]
    if not staff:
        return None
    _, _, name, phone = min(staff, key=lambda s: s[:2])
    await conn.execute(
        "INSERT INTO outbox (incident_id, channel, recipient, body) VALUES (%s, 'sms', %s, %s)",
        (incident_id, phone, json.dumps(body, ensure_ascii=False)),
    )
    return str(name)


async def tell_phone(*, conn: AsyncConnection, phone: str, template: str) -> None:
    """One SMS to a number (e.g. the answer to a reply that matched nothing)."""
    await conn.execute(
        "INSERT INTO outbox (channel, recipient, body) VALUES ('sms', %s, %s)",
        (phone, _body(template, {})),
    )
