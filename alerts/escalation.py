"""Escalate incidents nobody acknowledged in time, again and again until someone acts.

Deadlines live in the database (`incidents.escalate_at`), so a restart loses none;
due incidents are claimed with FOR UPDATE SKIP LOCKED and moved on in the same
transaction as their audit row, so two instances, or a crash between a deadline and
its escalation, never escalate one step twice.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from alerts import audit, metrics, notices
from alerts.models import Severity
from alerts.policy import EscalationPolicy
from alerts.service import SYSTEM

log = logging.getLogger("anxin.escalation")

# how often the worker looks: an escalation fires within this (plus a query) of its
# deadline, well inside the 2 s promised
POLL_S = 0.5
BATCH = 100


@dataclass(frozen=True)
class Escalated:
    incident_id: int
    priority: str
    level: int
    to: str
    due_at: datetime


async def escalate_due(
    *, conn: AsyncConnection, policy: EscalationPolicy, limit: int = 100
) -> list[Escalated]:
    """Escalate every incident whose deadline has passed, one step each."""
    done: list[Escalated] = []
    async with conn.transaction():
        # most polls find nothing due: they must not take the alerts lock, which every
        # SOS needs too
        cur = await conn.execute(
            "SELECT EXISTS (SELECT 1 FROM incidents WHERE escalate_at <= now() AND status = 'open')"
        )
        due = await cur.fetchone()
        if not (due and due[0]):
            return done
        await audit.lock_alerts(conn=conn)
        cur = await conn.execute(
            """
            SELECT id, severity, escalation_level, escalate_at, opened_at FROM incidents
            WHERE escalate_at <= now() AND status = 'open'
            ORDER BY escalate_at LIMIT %s FOR UPDATE SKIP LOCKED
            """,
            (limit,),
        )
        for incident_id, severity, level, due_at, opened_at in await cur.fetchall():
            step = Escalated(incident_id, severity, level + 1, policy.step(level + 1), due_at)
            wait = policy.deadline(Severity(severity))
            # the next step keeps the schedule; after a long outage it starts from now
            await conn.execute(
                "UPDATE incidents SET escalation_level = %s,"
                " escalate_at = greatest(escalate_at + %s, now() + %s / 2) WHERE id = %s",
                (step.level, wait, wait, incident_id),
            )
            await audit.record(
                conn=conn,
                incident_id=incident_id,
                actor=SYSTEM,
                action="escalated",
                data={"level": step.level, "to": step.to, "due_at": due_at.isoformat()},
            )
            waited = (datetime.now(opened_at.tzinfo) - opened_at).total_seconds()
            await notices.escalated(
                conn=conn,
                incident_id=incident_id,
                level=step.level,
                minutes=max(1, round(waited / 60)),
            )
            done.append(step)
    for step in done:
        metrics.ESCALATIONS.labels(step.priority).inc()
        log.warning(
            "incident %d not acknowledged in time: escalated to %s (level %d)",
            step.incident_id,
            step.to,
            step.level,
        )
    return done


class EscalationWorker:
    """The supervised loop: `kernel.periodic.every(POLL_S, worker.step, outage)`."""

    def __init__(self, pool: AsyncConnectionPool, policy: EscalationPolicy) -> None:
        self._pool = pool
        self._policy = policy

    async def step(self) -> None:
        async with self._pool.connection() as conn:
            while len(await escalate_due(conn=conn, policy=self._policy, limit=BATCH)) == BATCH:
                pass  # a backlog (after an outage): keep going until it is cleared
