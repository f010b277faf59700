"""What people are told about an incident, worked out in the transaction of the
change that tells of it (so the outbox rows commit with the change, or not at all);
dispatch.notify.plan decides who hears it and queues the messages."""

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from access.accounts import supervisor_phones
from alerts.reasons import Lang, label, say
from dispatch.notify import plan
from dispatch.offers import Offer


async def summary(*, conn: AsyncConnection, incident_id: int) -> dict[str, Any]:
    """Who, what happened (the most urgent alert's reason, in Chinese), where, and how
    to get in."""
    cur = await conn.execute(
        """
        SELECT r.name, extract(year FROM age(r.birth_date))::int, r.address, r.access_notes,
               i.device_id, a.reason_code, a.reason_values, a.reason
        FROM incidents i LEFT JOIN resident_directory r ON r.id = i.resident_id
        LEFT JOIN LATERAL (
            SELECT reason_code, reason_values, reason FROM alerts WHERE incident_id = i.id
            ORDER BY severity, opened_at LIMIT 1
        ) a ON true
        WHERE i.id = %s
        """,
        (incident_id,),
    )
    row = await cur.fetchone()
    assert row is not None
    name, age, address, access, device, code, values, reason = row
    who = f"{name}（{age}岁）" if name and age is not None else (name or f"设备 {device}")
    what = say(code, values, reason or "", Lang.ZH)
    return {"who": who, "what": what, "address": address or "未登记", "access": access or "无"}


async def offered(*, conn: AsyncConnection, offer: Offer, at: datetime, link: str) -> None:
    """The asked point's people: who, what, where, how to get in, the code to reply
    with, and the link to answer from."""
    params = {
        **await summary(conn=conn, incident_id=offer.incident_id),
        "code": offer.answer_code,
        "link": link,
    }
    await plan.tell_point(
        conn=conn, incident_id=offer.incident_id, point_id=offer.point_id, params=params, at=at
    )


async def escalated(*, conn: AsyncConnection, incident_id: int, level: int, minutes: int) -> None:
    params = {
        **await summary(conn=conn, incident_id=incident_id),
        "level": level,
        "minutes": minutes,
    }
    await _tell_supervisors(conn, incident_id, template="escalated", params=params)


async def nobody_inside(
    *, conn: AsyncConnection, incident_id: int, call_120: bool, outside: dict[str, Any] | None
) -> None:
    if call_120:
        advice = "P1：请立即拨打120。"
    elif outside is not None:
        advice = f"圈外最近：{outside['point_id']}，约{outside['minutes']:.0f}分钟。"
    else:
        advice = "请电话协调。"
    params = {**await summary(conn=conn, incident_id=incident_id), "advice": advice}
    await _tell_supervisors(conn, incident_id, template="no_point", params=params)


async def family_opened(*, conn: AsyncConnection, incident_id: int, what: str) -> None:
    resident_id = await _urgent_for(conn, incident_id)
    if resident_id is not None:
        await plan.tell_family(
            conn=conn, incident_id=incident_id, resident_id=resident_id,
            template="family_opened", params={"what": what},
        )  # fmt: skip


async def family_resolved(*, conn: AsyncConnection, incident_id: int, outcome: str) -> None:
    resident_id = await _urgent_for(conn, incident_id)
    if resident_id is not None:
        await plan.tell_family(
            conn=conn, incident_id=incident_id, resident_id=resident_id,
            template="family_resolved", params={"outcome": label("outcome", outcome, Lang.ZH)},
        )  # fmt: skip


async def _urgent_for(conn: AsyncConnection, incident_id: int) -> str | None:
    """The resident whose family hears of this incident: of an urgent (P1, P2) one,
    not of a P3 (a watch's battery, a mild fever)."""
    cur = await conn.execute(
        "SELECT resident_id FROM incidents WHERE id = %s AND severity <> 'P3'", (incident_id,)
    )
    row = await cur.fetchone()
    return None if row is None or row[0] is None else str(row[0])


async def _tell_supervisors(
    conn: AsyncConnection, incident_id: int, *, template: str, params: dict[str, Any]
) -> None:
    """The supervisors of the incident's district (access knows who they are)."""
    cur = await conn.execute("SELECT district FROM incidents WHERE id = %s", (incident_id,))
    row = await cur.fetchone()
    phones = await supervisor_phones(conn=conn, district=row[0] if row else None)
    await plan.tell_supervisors(
        conn=conn, incident_id=incident_id, phones=phones, template=template, params=params
    )
