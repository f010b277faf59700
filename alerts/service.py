"""The one place that opens alerts."""

import json

from psycopg import AsyncConnection

from alerts.models import Downgrade, Finding, OpenedAlert, Outcome

NOTIFY_CHANNEL = "anxin_alerts"


async def open_alert(*, conn: AsyncConnection, finding: Finding) -> OpenedAlert | None:
    """Open an alert for a finding, in the caller's transaction.

    Returns None when an alert with the same dedup key exists already (a redelivered
    message, a repeated finding). Listeners hear about a new alert on commit.
    """
    cur = await conn.execute(
        """
        INSERT INTO alerts (observed_at, device_id, resident_id, rule, severity, reason,
                            dedup_key, data)
        SELECT %(observed_at)s, d.id, d.resident_id, %(rule)s, %(severity)s, %(reason)s,
               %(dedup_key)s, %(data)s
        FROM devices d WHERE d.id = %(device_id)s
        ON CONFLICT (dedup_key) DO NOTHING
        RETURNING id
        """,
        {
            "observed_at": finding.observed_at,
            "device_id": finding.device_id,
            "rule": finding.rule,
            "severity": str(finding.severity),
            "reason": finding.reason,
            "dedup_key": finding.dedup_key,
            "data": json.dumps(finding.data),
        },
    )
    row = await cur.fetchone()
    if row is None:
        return None
    alert_id: int = row[0]
    payload = json.dumps({"id": alert_id, "severity": str(finding.severity), "rule": finding.rule})
    await conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, payload))
    return OpenedAlert(id=alert_id, finding=finding)


async def downgrade_alert(*, conn: AsyncConnection, downgrade: Downgrade) -> int | None:
    """Lower an unresolved alert's severity and say why in its reason; returns its id.

    None when there is no such alert (never opened, or resolved already): then there is
    nothing left to downgrade.
    """
    cur = await conn.execute(
        """
        UPDATE alerts SET severity = %(severity)s, reason = reason || '; ' || %(note)s,
               data = coalesce(data, '{}') || jsonb_build_object('downgraded_at', %(at)s::text)
        WHERE dedup_key = %(dedup_key)s AND status <> 'resolved' AND severity <> %(severity)s
        RETURNING id
        """,
        {
            "severity": str(downgrade.severity),
            "note": downgrade.note,
            "at": downgrade.observed_at.isoformat(),
            "dedup_key": downgrade.dedup_key,
        },
    )
    row = await cur.fetchone()
    if row is None:
        return None
    alert_id: int = row[0]
    payload = json.dumps({"id": alert_id, "severity": str(downgrade.severity), "changed": True})
    await conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, payload))
    return alert_id


async def apply_outcomes(*, conn: AsyncConnection, outcomes: list[Outcome]) -> int:
    """Open or downgrade alerts for what the detector found; returns how many opened.

    In order, so a fall and its cancellation in one batch end as a downgraded alert.
    """
    opened = 0
    for outcome in outcomes:
        if isinstance(outcome, Downgrade):
            await downgrade_alert(conn=conn, downgrade=outcome)
        elif await open_alert(conn=conn, finding=outcome) is not None:
            opened += 1
    return opened
