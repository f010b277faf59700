"""Asking a point to take an incident, and its answer (dispatch owns `dispatch_offers`).

An offer waits for the point's answer until its `accept_within_s` has passed; at most
one waits per incident. Whoever moves the incident on (alerts.response.dispatching) calls these
inside its own transaction, so an offer and the incident's timeline commit together.
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from psycopg import AsyncConnection, errors

from kernel.errors import Conflict, NotFound


class Answer(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    # the operator sent the incident elsewhere, or closed it
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Offer:
    id: int
    incident_id: int
    point_id: str
    answer_by: datetime
    answer_code: str | None = None


CODE_DIGITS = 4


async def _free_code(conn: AsyncConnection) -> str:
    """A code no waiting offer has (callers hold the alerts lock, so none is taken
    meanwhile)."""
    cur = await conn.execute(
        "SELECT answer_code FROM dispatch_offers WHERE status = 'offered'"
        " AND answer_code IS NOT NULL"
    )
    taken = {r[0] for r in await cur.fetchall()}
    while True:
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        if code not in taken:
            return code


async def make(
    *, conn: AsyncConnection, incident_id: int, point_id: str, minutes: float | None
) -> Offer:
    """Ask `point_id`; it has its own `accept_within_s` to answer."""
    code = await _free_code(conn)
    try:
        cur = await conn.execute(
            """
            INSERT INTO dispatch_offers (incident_id, point_id, minutes, answer_by, answer_code)
            SELECT %s, id, %s, now() + accept_within_s * interval '1 second', %s
            FROM service_points WHERE id = %s
            RETURNING id, answer_by
            """,
            (incident_id, minutes, code, point_id),
        )
    except errors.UniqueViolation as exc:
        msg = f"incident {incident_id} already waits for a point's answer"
        raise Conflict(msg, code="offer_waiting", zh="已在等待服务点答复") from exc
    row = await cur.fetchone()
    if row is None:
        msg = f"unknown service point {point_id!r}"
        raise NotFound(msg, code="unknown_service_point", zh="没有这个服务点")
    return Offer(int(row[0]), incident_id, point_id, row[1], code)


async def waiting(*, conn: AsyncConnection, incident_id: int) -> Offer | None:
    """The offer waiting for an answer, locked for the caller's transaction."""
    cur = await conn.execute(
        "SELECT id, point_id, answer_by FROM dispatch_offers"
        " WHERE incident_id = %s AND status = 'offered' FOR UPDATE",
        (incident_id,),
    )
    row = await cur.fetchone()
    return None if row is None else Offer(int(row[0]), incident_id, row[1], row[2])


async def answer(*, conn: AsyncConnection, offer_id: int, answer: Answer, by: str) -> None:
    await conn.execute(
        "UPDATE dispatch_offers SET status = %s, answered_at = now(), answered_by = %s"
        " WHERE id = %s AND status = 'offered'",
        (str(answer), by, offer_id),
    )


async def withdraw(*, conn: AsyncConnection, incident_id: int, by: str) -> str | None:
    """Withdraw the waiting offer, if any; returns the point it had asked."""
    cur = await conn.execute(
        "UPDATE dispatch_offers SET status = 'withdrawn', answered_at = now(), answered_by = %s"
        " WHERE incident_id = %s AND status = 'offered' RETURNING point_id",
        (by, incident_id),
    )
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def refused(*, conn: AsyncConnection, incident_ids: Sequence[int]) -> dict[int, set[str]]:
    """Per incident, the points that declined it or let it wait past their time: not
    asked again."""
    cur = await conn.execute(
        "SELECT incident_id, point_id FROM dispatch_offers"
        " WHERE incident_id = ANY(%s) AND status IN ('declined', 'expired')",
        (list(incident_ids),),
    )
    found: dict[int, set[str]] = {i: set() for i in incident_ids}
    for incident_id, point_id in await cur.fetchall():
        found[incident_id].add(point_id)
    return found


async def any_overdue(*, conn: AsyncConnection) -> bool:
    cur = await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM dispatch_offers"
        " WHERE status = 'offered' AND answer_by <= now())"
    )
    row = await cur.fetchone()
    return bool(row and row[0])


async def expire_overdue(*, conn: AsyncConnection, limit: int) -> list[Offer]:
    """Mark offers unanswered past their time expired, claiming them with SKIP LOCKED
    (a second instance takes others, or none); returns them."""
    cur = await conn.execute(
        """
        UPDATE dispatch_offers SET status = 'expired', answered_at = now(), answered_by = 'system'
        WHERE id IN (
            SELECT id FROM dispatch_offers WHERE status = 'offered' AND answer_by <= now()
            ORDER BY answer_by LIMIT %s FOR UPDATE SKIP LOCKED
        )
        RETURNING id, incident_id, point_id, answer_by
        """,
        (limit,),
    )
    return [Offer(int(r[0]), int(r[1]), r[2], r[3]) for r in await cur.fetchall()]


async def waiting_for_staff(
    *, conn: AsyncConnection, code: str, phone_digits: str
) -> tuple[Offer, str] | None:
    """The waiting offer with this answer code, if the phone (its digits, with or
    without China's 86) is one of its point's staff: the offer and the person's name."""
    cur = await conn.execute(
        """
        SELECT o.id, o.incident_id, o.point_id, o.answer_by, o.answer_code, s.name
        FROM dispatch_offers o JOIN service_point_staff s ON s.point_id = o.point_id
        WHERE o.answer_code = %s AND o.status = 'offered'
          AND regexp_replace(s.phone, '\\D', '', 'g') IN (%s, '86' || %s)
        """,
        (code, phone_digits, phone_digits),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return Offer(int(row[0]), int(row[1]), row[2], row[3], row[4]), str(row[5])


async def standing(*, conn: AsyncConnection, offer_id: int) -> tuple[str, int, str] | None:
    """An offer's point, incident and status, or None if there is no such offer."""
    cur = await conn.execute(
        "SELECT point_id, incident_id, status FROM dispatch_offers WHERE id = %s", (offer_id,)
    )
    row = await cur.fetchone()
    return None if row is None else (str(row[0]), int(row[1]), str(row[2]))
