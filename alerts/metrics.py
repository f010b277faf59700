"""What alerts tell Prometheus: the SLA figures live, as the report has them by day.

Counters and the histogram count what this instance did (Prometheus sums the
instances); the gauges are read from the database every few seconds, so every
instance shows the same, whole picture.
"""

from prometheus_client import Counter, Gauge, Histogram
from psycopg_pool import AsyncConnectionPool

from alerts.models import Severity
from alerts.reports import ANSWER_WITHIN_S

GAUGES_EVERY_S = 5.0

TIME_TO_ACK = Histogram(
    "anxin_incident_time_to_acknowledge_seconds",
    "From an incident's opening to its acknowledgement",
    ["priority"],
    buckets=(5, 10, 20, 30, 45, 60, 90, 120, 300, 600, 1800, 3600),
)
ESCALATIONS = Counter(
    "anxin_incident_escalations_total", "Escalations of unacknowledged incidents", ["priority"]
)
ACTIVE = Gauge(
    "anxin_incidents_active", "Incidents not yet closed, by priority and status",
    ["priority", "status"],
)  # fmt: skip
OLDEST_UNACKNOWLEDGED = Gauge(
    "anxin_incident_oldest_unacknowledged_seconds",
    "Age of the oldest open incident nobody has acknowledged (0: none)",
    ["priority"],
)
ACKED_WITHIN = Gauge(
    "anxin_incidents_acknowledged_within_60s_ratio",
    "Of the incidents opened in the last 24 h, the share acknowledged within 60 s",
    ["priority"],
)

_STATUSES = ("open", "acknowledged", "dispatched", "on_scene")


async def refresh_gauges(pool: AsyncConnectionPool) -> None:
    async with pool.connection() as conn:
        cur = await conn.execute(
            """
            SELECT severity, status, count(*),
                   coalesce(max(extract(epoch FROM now() - opened_at))
                            FILTER (WHERE status = 'open'), 0)
            FROM incidents WHERE status NOT IN ('resolved', 'cancelled') GROUP BY 1, 2
            """
        )
        active = {(r[0], r[1]): (r[2], float(r[3])) for r in await cur.fetchall()}
        cur = await conn.execute(
            """
            SELECT severity, avg((acknowledged_at IS NOT NULL AND
                   acknowledged_at - opened_at <= make_interval(secs => %s))::int)
            FROM incidents WHERE opened_at > now() - interval '24 hours'
              AND status <> 'cancelled' GROUP BY 1
            """,
            (ANSWER_WITHIN_S,),
        )
        within = {r[0]: float(r[1]) for r in await cur.fetchall()}
    for priority in Severity:
        oldest = 0.0
        for status in _STATUSES:
            count, age = active.get((str(priority), status), (0, 0.0))
            ACTIVE.labels(str(priority), status).set(count)
            oldest = max(oldest, age)
        OLDEST_UNACKNOWLEDGED.labels(str(priority)).set(oldest)
        if str(priority) in within:
            ACKED_WITHIN.labels(str(priority)).set(within[str(priority)])
