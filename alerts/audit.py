"""Every change to an incident leaves an audit row, written in the change's
transaction; the rows are the incident's timeline and the live stream's event log.

Writers of alerts take one transaction-scoped advisory lock first (`lock_alerts`), so
audit ids are handed out in commit order: a stream client that has seen id N has seen
every change before it, and `Last-Event-ID` replays exactly what it missed. Alert
changes are rare next to readings (tens a second at most), so one lock costs little;
taking it before any row lock also keeps writers free of deadlocks.
"""

import json
from typing import Any

from psycopg import AsyncConnection

from dispatch.notify import outbox

NOTIFY_CHANNEL = "anxin_alerts"
_WRITE_LOCK = 7268354  # schema.sql holds 7268353


async def lock_alerts(*, conn: AsyncConnection) -> None:
    """Call first in any transaction that changes incidents or alerts."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))


async def record(
    *,
    conn: AsyncConnection,
    incident_id: int,
    action: str,
    actor: str,
    alert_id: int | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> int:
    """Write one audit row, tell listeners on commit, and queue it for each webhook;
    returns its id."""
    cur = await conn.execute(
        """
        WITH e AS (
            INSERT INTO alert_audit (incident_id, alert_id, actor, action, from_status,
                                     to_status, note, data)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING *
        )
        SELECT id, pg_notify(%s, json_build_object('id', id, 'incident', incident_id)::text),
            json_build_object(
                'event', 'incident.' || e.action, 'event_id', e.id,
                'incident_id', e.incident_id, 'alert_id', e.alert_id, 'at', e.at,
                'actor', e.actor, 'action', e.action, 'from_status', e.from_status,
                'to_status', e.to_status, 'note', e.note, 'data', e.data)::text
        FROM e
        """,
        (
            incident_id,
            alert_id,
            actor,
            action,
            from_status,
            to_status,
            note,
            json.dumps(data) if data is not None else None,
            NOTIFY_CHANNEL,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    audit_id: int = row[0]
    # integrators hear of it in the same transaction (the outbox), or never of it
    await outbox.enqueue_webhooks(conn=conn, incident_id=incident_id, event=row[2])
    return audit_id
