"""The one place that opens alerts, and groups them into incidents.

An incident is one resident's (or one unattached device's) trouble while any of it is
unresolved: a fall, then an SOS, then a high heart rate are three alerts of one
incident, which carries the most urgent severity. The same finding again (a second
press, the heart rate still high) counts on its alert instead of adding one.
"""

import json

from psycopg import AsyncConnection

from alerts import audit, notices
from alerts.models import AlertStatus, Downgrade, Finding, OpenedAlert, Outcome, Severity
from alerts.policy import DEFAULT_POLICY, EscalationPolicy
from alerts.reasons import Lang, say

SYSTEM = "system"  # the actor of what the detector and escalation do


async def open_alert(
    *, conn: AsyncConnection, finding: Finding, policy: EscalationPolicy = DEFAULT_POLICY
) -> OpenedAlert | None:
    """Open an alert for a finding (or count a repeat), in the caller's transaction.

    Returns None when this finding was taken already (a redelivered message) or the
    device is not registered. Listeners hear about it on commit.
    """
    # its own statement: a statement's snapshot is taken before the lock is granted,
    # and what a writer committed while we waited must be seen
    await audit.lock_alerts(conn=conn)
    cur = await conn.execute(
        """
        SELECT EXISTS (SELECT 1 FROM alert_findings WHERE dedup_key = %s),
               d.id IS NOT NULL, d.resident_id, r.district
        FROM (SELECT 1) one
        LEFT JOIN device_register d ON d.id = %s
        LEFT JOIN resident_directory r ON r.id = d.resident_id
        """,
        (finding.dedup_key, finding.device_id),
    )
    row = await cur.fetchone()
    assert row is not None
    taken, registered, resident_id, district = row
    if taken or not registered:
        return None
    incident_id = await _incident_for(
        conn, finding, resident_id=resident_id, district=district, policy=policy
    )
    cur = await conn.execute(
        "SELECT id FROM alerts WHERE incident_id = %s AND rule = %s ORDER BY id LIMIT 1",
        (incident_id, finding.rule),
    )
    repeated = await cur.fetchone()
    if repeated is not None:
        alert_id: int = repeated[0]
        await _count_repeat(conn, alert_id, finding)
    else:
        alert_id = await _insert_alert(conn, finding, incident_id, resident_id)
    await conn.execute(
        "INSERT INTO alert_findings (dedup_key, alert_id, observed_at) VALUES (%s, %s, %s)",
        (finding.dedup_key, alert_id, finding.observed_at),
    )
    await audit.record(
        conn=conn,
        incident_id=incident_id,
        alert_id=alert_id,
        actor=SYSTEM,
        action="repeated" if repeated else "alert_opened",
        data={
            "rule": finding.rule,
            "severity": str(finding.severity),
            "key": finding.dedup_key,
            **(
                {"reason": {"code": finding.code, "values": finding.values}} if finding.code else {}
            ),
        },
    )
    return OpenedAlert(id=alert_id, incident_id=incident_id, finding=finding, new=repeated is None)


async def _incident_for(
    conn: AsyncConnection,
    finding: Finding,
    *,
    resident_id: str | None,
    district: str | None,
    policy: EscalationPolicy,
) -> int:
    """The subject's unresolved incident, raised to this finding's severity, or a new
    one with its acknowledgement deadline."""
    subject = resident_id or f"device:{finding.device_id}"
    cur = await conn.execute(
        "SELECT id, severity, status FROM incidents WHERE subject = %s"
        " AND status NOT IN ('resolved', 'cancelled') FOR UPDATE",
        (subject,),
    )
    row = await cur.fetchone()
    if row is None:
        cur = await conn.execute(
            """
            INSERT INTO incidents (subject, resident_id, device_id, district, severity,
                                   escalate_at)
            VALUES (%s, %s, %s, %s, %s, now() + %s) RETURNING id
            """,
            (
                subject,
                resident_id,
                finding.device_id,
                district,
                str(finding.severity),
                policy.deadline(finding.severity),
            ),
        )
        created = await cur.fetchone()
        assert created is not None
        incident_id: int = created[0]
        await audit.record(
            conn=conn,
            incident_id=incident_id,
            actor=SYSTEM,
            action="opened",
            to_status=AlertStatus.OPEN,
            data={"severity": str(finding.severity)},
        )
        what = say(finding.code, finding.values, finding.reason, Lang.ZH)
        await notices.family_opened(conn=conn, incident_id=incident_id, what=what)
        return incident_id
    incident_id, current = row[0], Severity(row[1])
    raised = finding.severity.most_urgent(current)
    if raised is not current and row[2] == AlertStatus.ACKNOWLEDGED:
        await _reopen(conn, incident_id, finding, policy)
        return incident_id
    # more urgent now: an unacknowledged incident's deadline is the sooner of the two
    await conn.execute(
        "UPDATE incidents SET severity = %(raised)s, last_seen_at = now(),"
        " escalate_at = CASE WHEN %(raised)s < severity AND status = 'open'"
        "   THEN least(escalate_at, now() + %(wait)s) ELSE escalate_at END"
        " WHERE id = %(id)s",
        {"raised": str(raised), "wait": policy.deadline(raised), "id": incident_id},
    )
    return incident_id


async def _reopen(
    conn: AsyncConnection, incident_id: int, finding: Finding, policy: EscalationPolicy
) -> None:
    """A more urgent finding (an SOS on an acknowledged low-battery incident) must not
    be absorbed by an acknowledgement given for something lesser: the incident is
    open again, at the new severity, with its deadline, and escalates if nobody
    acknowledges it anew. (Once dispatched, someone is on the way: the raise shows in
    the timeline and the stream.)"""
    await conn.execute(
        "UPDATE incidents SET severity = %s, status = 'open', last_seen_at = now(),"
        " escalate_at = now() + %s WHERE id = %s",
        (str(finding.severity), policy.deadline(finding.severity), incident_id),
    )
    await conn.execute("UPDATE alerts SET status = 'open' WHERE incident_id = %s", (incident_id,))
    await audit.record(
        conn=conn,
        incident_id=incident_id,
        actor=SYSTEM,
        action="reopened",
        from_status=AlertStatus.ACKNOWLEDGED,
        to_status=AlertStatus.OPEN,
        data={"severity": str(finding.severity), "rule": finding.rule},
    )


async def _insert_alert(
    conn: AsyncConnection, finding: Finding, incident_id: int, resident_id: str | None
) -> int:
    cur = await conn.execute(
        """
        INSERT INTO alerts (observed_at, device_id, resident_id, rule, severity, reason,
                            dedup_key, data, incident_id, status, last_seen_at, reason_code,
                            reason_values)
        SELECT %s, %s, %s, %s, %s, %s, %s, %s, i.id, i.status, %s, %s, %s
        FROM incidents i WHERE i.id = %s
        RETURNING id
        """,
        (
            finding.observed_at,
            finding.device_id,
            resident_id,
            finding.rule,
            str(finding.severity),
            finding.reason,
            finding.dedup_key,
            json.dumps(finding.data),
            finding.observed_at,
            finding.code,
            json.dumps(finding.values),
            incident_id,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    alert_id: int = row[0]
    return alert_id


async def _count_repeat(conn: AsyncConnection, alert_id: int, finding: Finding) -> None:
    await conn.execute(
        """
        UPDATE alerts SET count = count + 1, last_seen_at = greatest(last_seen_at, %s),
               severity = CASE WHEN %s < severity THEN %s ELSE severity END,
               reason = %s, reason_code = %s, reason_values = %s
        WHERE id = %s
        """,
        (
            finding.observed_at,
            str(finding.severity),
            str(finding.severity),
            finding.reason,
            finding.code,
            json.dumps(finding.values),
            alert_id,
        ),
    )


async def downgrade_alert(*, conn: AsyncConnection, downgrade: Downgrade) -> int | None:
    """Lower an unresolved alert's severity and say why in its reason; returns its id.

    None when there is no such alert (never opened, or closed already): then there is
    nothing left to downgrade. The incident keeps the most urgent of its alerts.
    """
    await audit.lock_alerts(conn=conn)
    cur = await conn.execute(
        """
        UPDATE alerts a SET severity = %(severity)s, reason = reason || '; ' || %(note)s,
               data = coalesce(data, '{}') || jsonb_build_object('downgraded_at', %(at)s::text)
        FROM alert_findings f
        WHERE f.dedup_key = %(dedup_key)s AND a.id = f.alert_id
          AND a.status NOT IN ('resolved', 'cancelled') AND a.severity <> %(severity)s
        RETURNING a.id, a.incident_id
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
    alert_id, incident_id = row
    await conn.execute(
        "UPDATE incidents SET severity = (SELECT min(severity) FROM alerts"
        " WHERE incident_id = %(id)s) WHERE id = %(id)s",
        {"id": incident_id},
    )
    await audit.record(
        conn=conn,
        incident_id=incident_id,
        alert_id=alert_id,
        actor=SYSTEM,
        action="downgraded",
        note=downgrade.note,
        data={
            "severity": str(downgrade.severity),
            **(
                {"reason": {"code": downgrade.code, "values": downgrade.values}}
                if downgrade.code
                else {}
            ),
        },
    )
    return int(alert_id)


async def apply_outcomes(
    *,
    conn: AsyncConnection,
    outcomes: list[Outcome],
    policy: EscalationPolicy = DEFAULT_POLICY,
) -> int:
    """Open or downgrade alerts for what the detector found; returns how many findings
    were taken (new alerts and repeats).

    In order, so a fall and its cancellation in one batch end as a downgraded alert.
    """
    taken = 0
    for outcome in outcomes:
        if isinstance(outcome, Downgrade):
            await downgrade_alert(conn=conn, downgrade=outcome)
        elif await open_alert(conn=conn, finding=outcome, policy=policy) is not None:
            taken += 1
    return taken
