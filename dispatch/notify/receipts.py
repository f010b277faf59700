"""Delivery receipts: whether a text the provider accepted reached the phone, as the
provider reports it, recorded on its outbox row; and the dispatch texts to a point's
staff that did not get through, for alerts.response.dispatching to follow with the point's next
staff member.

Alibaba Cloud pushes SmsReport as a JSON array of reports (`out_id` is the OutId we
sent: our outbox id; `success`, `err_code`, `err_msg`); Tencent Cloud's status
callback is an array too (`sid` is the SerialNo its SendSms answered, kept in the
row's `receipt`; `report_status` SUCCESS or FAIL, `errmsg`, `description`). Neither
signs its callbacks: the secret token in the callback address is what authenticates
them (alerts.response.answers_api).
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from psycopg import AsyncConnection

REPORTS = Counter(
    "anxin_sms_receipts_total",
    "SMS delivery reports received, by what they said; unmatched: no text of ours",
    ["provider", "delivery"],
)


@dataclass(frozen=True)
class Report:
    """One report, in our words: which text (`out_id`: our id, or `serial`: the
    provider's), whether it was delivered, and the provider's code for it."""

    delivered: bool
    code: str
    out_id: int | None = None
    serial: str | None = None
    raw: Mapping[str, Any] | None = None


def aliyun_report(item: Mapping[str, Any]) -> Report:
    out_id = str(item.get("out_id") or "")
    return Report(
        delivered=item.get("success") is True,
        code=str(item.get("err_code") or ""),
        out_id=int(out_id) if out_id.isdigit() and len(out_id) < 19 else None,
        raw=item,
    )


def tencent_report(item: Mapping[str, Any]) -> Report:
    return Report(
        delivered=item.get("report_status") == "SUCCESS",
        code=str(item.get("errmsg") or ""),
        serial=str(item.get("sid") or "") or None,
        raw=item,
    )


async def record(*, conn: AsyncConnection, provider: str, reports: Sequence[Report]) -> int:
    """Each report on its text; returns how many matched one. A report repeated (the
    provider retrying its callback) changes nothing."""
    matched = 0
    for report in reports:
        cur = await conn.execute(
            """
            UPDATE outbox SET delivery = %s, delivery_report = %s,
                delivery_reported_at = now()
            WHERE channel = 'sms' AND (id = %s OR receipt->>'SerialNo' = %s)
            RETURNING id
            """,
            (
                "delivered" if report.delivered else "undelivered",
                json.dumps(dict(report.raw or {}), ensure_ascii=False),
                report.out_id,
                report.serial,
            ),
        )
        found = await cur.fetchone() is not None
        matched += found
        said = "unmatched" if not found else "delivered" if report.delivered else "undelivered"
        REPORTS.labels(provider, said).inc()
    return matched


@dataclass(frozen=True)
class Undelivered:
    """A dispatch text to a point's staff member that did not get through."""

    message_id: int
    incident_id: int
    point_id: str
    staff_name: str
    phone: str
    why: str  # failed, undelivered, unconfirmed
    code: str | None  # the provider's code, or our last error
    body: dict[str, Any]


async def undelivered_dispatches(
    *, conn: AsyncConnection, wait_s: float, limit: int
) -> list[Undelivered]:
    """The waiting offers' dispatch texts that failed, were reported undelivered, or are
    unconfirmed after `wait_s`; each marked followed up in the caller's transaction
    (SKIP LOCKED: two instances never take one twice)."""
    cur = await conn.execute(
        """
        WITH due AS (
            SELECT m.id, o.incident_id, o.point_id, s.name, m.recipient,
                   CASE WHEN m.status = 'failed' THEN 'failed'
                        WHEN m.delivery = 'undelivered' THEN 'undelivered'
                        ELSE 'unconfirmed' END AS why,
                   coalesce(m.delivery_report->>'err_code', m.delivery_report->>'errmsg',
                            m.last_error) AS code
            FROM dispatch_offers o
            JOIN outbox m ON m.incident_id = o.incident_id AND m.channel = 'sms'
                AND m.body->>'template' = 'dispatch' AND m.created_at >= o.offered_at
            JOIN service_point_staff s ON s.point_id = o.point_id AND s.phone = m.recipient
            WHERE o.status = 'offered' AND m.followed_up_at IS NULL
              AND m.delivery IS DISTINCT FROM 'delivered'
              AND (m.status = 'failed' OR m.delivery = 'undelivered'
                   OR m.created_at <= now() - %s * interval '1 second')
            ORDER BY m.id LIMIT %s FOR UPDATE OF m SKIP LOCKED
        )
        UPDATE outbox m SET followed_up_at = now() FROM due WHERE m.id = due.id
        RETURNING due.id, due.incident_id, due.point_id, due.name, due.recipient,
                  due.why, due.code, m.body
        """,
        (wait_s, limit),
    )
    return [Undelivered(*row) for row in await cur.fetchall()]
