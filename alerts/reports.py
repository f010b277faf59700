"""Whether the promise was kept: per priority and day, the share of incidents
acknowledged within 60 s (and within their own deadline), how long acknowledging,
dispatching and resolving took, and how often each rule was a false alarm."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from access.accounts import Principal
from alerts.queries import visible

ANSWER_WITHIN_S = 60  # the alarm-receiving centre's promise (UK telecare: 97.5-98.5 %)


def _stats(column: str) -> str:
    took = f"extract(epoch FROM i.{column} - i.opened_at)"
    name = column.removesuffix("_at")
    return f"""
        percentile_cont(0.5) WITHIN GROUP (ORDER BY {took}) AS {name}_median_s,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY {took}) AS {name}_p95_s"""


_PER_DAY = f"""
    SELECT (i.opened_at AT TIME ZONE %(tz)s)::date AS day, i.severity AS priority,
           count(*) AS incidents,
           count(i.acknowledged_at) AS acknowledged,
           avg((i.acknowledged_at IS NOT NULL
                AND i.acknowledged_at - i.opened_at <= make_interval(secs => %(within)s))::int)
               AS acknowledged_within_60s_share,
           {_stats("acknowledged_at")},
           {_stats("dispatched_at")},
           {_stats("closed_at")},
           count(*) FILTER (WHERE i.outcome = 'false_alarm') AS false_alarms,
           count(*) FILTER (WHERE i.status = 'cancelled') AS cancelled
    FROM incidents i
    WHERE i.opened_at >= %(from)s AND i.opened_at < %(to)s AND {{visible}}
    GROUP BY 1, 2 ORDER BY 1, 2
"""

_PER_RULE = """
    SELECT a.rule, count(DISTINCT i.id) AS resolved,
           avg((i.outcome = 'false_alarm')::int) AS false_alarm_share
    FROM incidents i JOIN alerts a ON a.incident_id = i.id
    WHERE i.opened_at >= %(from)s AND i.opened_at < %(to)s AND i.status = 'resolved'
      AND {visible}
    GROUP BY 1 ORDER BY 1
"""


async def sla(
    *, conn: AsyncConnection, user: Principal, start: datetime, end: datetime, tz: str
) -> dict[str, Any]:
    params: dict[str, Any] = {"from": start, "to": end, "tz": tz, "within": ANSWER_WITHIN_S}
    where = visible(user, params)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql.SQL(_PER_DAY).format(visible=where), params)
        days = await cur.fetchall()
        await cur.execute(sql.SQL(_PER_RULE).format(visible=where), params)
        rules = await cur.fetchall()
    for row in (*days, *rules):
        for key, value in row.items():
            if isinstance(value, float | Decimal):
                row[key] = round(float(value), 3)
    return {
        "from": start,
        "to": end,
        "time_zone": tz,
        "answer_within_s": ANSWER_WITHIN_S,
        "per_day": days,
        "false_alarms_per_rule": rules,
    }
