"""The one place that opens alerts."""

import json

from psycopg import AsyncConnection

from alerts.models import Finding, OpenedAlert

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
