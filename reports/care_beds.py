"""Home care beds (家庭养老床位) for one month: the city pays a monthly subsidy per bed
whose service met the standard. Per bed (a resident with monitoring devices): how
much of the month its devices were heard from, its incidents and how fast each P1
was acknowledged, the visits made (arrivals the dispatch flow recorded, and help
requests done), and met or not against the district's criteria, with the reasons.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from reports.pages import Raw, page, table


@dataclass(frozen=True)
class Criteria:
    # share of the month's hours in which each device was heard from (on average)
    min_online_share: float = 0.9
    # every P1 acknowledged within this many seconds
    max_p1_ack_s: float = 60.0
    # visits (arrivals on scene, help requests done) in the month
    min_visits: int = 1
    subsidy_yuan: int = 300


@dataclass
class Bed:
    resident_id: str
    name: str
    district: str | None
    devices: int
    online_share: float
    incidents: int
    p1: int
    p1_late: int
    median_ack_s: float | None
    max_ack_s: float | None
    visits: int
    help_done: int
    # why not met: (code, values), worded per language by `reasons`
    unmet: list[tuple[str, dict[str, float]]] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return not self.unmet


_QUERY = """
WITH devs AS (
    SELECT d.id, d.resident_id,
           date_trunc('hour', greatest(d.registered_at, %(start)s)) AS since
    FROM device_register d WHERE d.resident_id IS NOT NULL AND d.registered_at < %(end)s
), heard AS (
    SELECT device_id, date_trunc('hour', ts) AS h FROM stored_vitals
        WHERE ts >= %(start)s AND ts < %(end)s
    UNION SELECT device_id, date_trunc('hour', ts) FROM stored_events
        WHERE ts >= %(start)s AND ts < %(end)s
    UNION SELECT device_id, date_trunc('hour', ts) FROM stored_status
        WHERE ts >= %(start)s AND ts < %(end)s
    UNION SELECT device_id, date_trunc('hour', ts) FROM stored_locations
        WHERE ts >= %(start)s AND ts < %(end)s
), hours AS (
    SELECT device_id, count(*) AS n FROM heard GROUP BY device_id
), online AS (
    SELECT devs.resident_id, count(*) AS devices,
           avg(least(1.0, coalesce(hours.n, 0)
               / greatest(1.0, extract(epoch FROM %(end)s - devs.since) / 3600))) AS share
    FROM devs LEFT JOIN hours ON hours.device_id = devs.id GROUP BY devs.resident_id
), answered AS (
    SELECT resident_id, count(*) AS incidents,
           count(*) FILTER (WHERE severity = 'P1') AS p1,
           count(*) FILTER (WHERE severity = 'P1' AND (acknowledged_at IS NULL
               OR acknowledged_at - opened_at > %(max_ack)s * interval '1 second')) AS p1_late,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY
               extract(epoch FROM acknowledged_at - opened_at)) AS median_ack_s,
           max(extract(epoch FROM acknowledged_at - opened_at)) AS max_ack_s
    FROM incident_history WHERE opened_at >= %(start)s AND opened_at < %(end)s
        AND resident_id IS NOT NULL
    GROUP BY resident_id
), visited AS (
    SELECT resident_id, count(*) AS visits FROM incident_history
    WHERE on_scene_at >= %(start)s AND on_scene_at < %(end)s GROUP BY resident_id
), helped AS (
    SELECT resident_id, count(*) AS done FROM help_request_history
    WHERE done_at >= %(start)s AND done_at < %(end)s GROUP BY resident_id
)
SELECT r.id, r.name, r.district, o.devices, o.share,
       coalesce(a.incidents, 0) AS incidents, coalesce(a.p1, 0) AS p1,
       coalesce(a.p1_late, 0) AS p1_late, a.median_ack_s, a.max_ack_s,
       coalesce(v.visits, 0) AS visits, coalesce(hd.done, 0) AS help_done
FROM online o JOIN resident_directory r ON r.id = o.resident_id
LEFT JOIN answered a ON a.resident_id = r.id
LEFT JOIN visited v ON v.resident_id = r.id
LEFT JOIN helped hd ON hd.resident_id = r.id
ORDER BY r.district NULLS LAST, r.id
"""


async def beds(
    *, conn: AsyncConnection, start: datetime, end: datetime, criteria: Criteria
) -> list[Bed]:
    """The beds of [start, end) (a month, cut at now while it runs), judged."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_QUERY, {"start": start, "end": end, "max_ack": criteria.max_p1_ack_s})
        rows = await cur.fetchall()
    return [_judged(row, criteria) for row in rows]


def _judged(row: dict[str, Any], c: Criteria) -> Bed:
    bed = Bed(
        resident_id=row["id"],
        name=row["name"] or "",
        district=row["district"],
        devices=int(row["devices"]),
        online_share=float(row["share"] or 0.0),
        incidents=int(row["incidents"]),
        p1=int(row["p1"]),
        p1_late=int(row["p1_late"]),
        median_ack_s=_float(row["median_ack_s"]),
        max_ack_s=_float(row["max_ack_s"]),
        visits=int(row["visits"]),
        help_done=int(row["help_done"]),
    )
    if bed.online_share < c.min_online_share:
        bed.unmet.append(("online", {"share": bed.online_share, "min": c.min_online_share}))
    if bed.p1_late:
        bed.unmet.append(("p1_late", {"n": bed.p1_late, "max": c.max_p1_ack_s}))
    if bed.visits + bed.help_done < c.min_visits:
        bed.unmet.append(("visits", {"n": bed.visits + bed.help_done, "min": c.min_visits}))
    return bed


REASONS = {
    "online": ("设备在线率 {share:.0%} 低于 {min:.0%}", "online {share:.0%} < {min:.0%}"),
    "p1_late": (
        "{n:.0f} 个P1未在 {max:.0f} 秒内受理",
        "{n:.0f} P1 not acknowledged within {max:.0f} s",
    ),
    "visits": ("上门 {n:.0f} 次，少于 {min:.0f} 次", "{n:.0f} visits < {min:.0f}"),
}


def reasons(bed: Bed, lang: str) -> str:
    which = 0 if lang == "zh-CN" else 1
    return "; ".join(REASONS[code][which].format(**values) for code, values in bed.unmet)


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


COLUMNS = [
    "resident_id", "name", "district", "devices", "online_share", "incidents", "p1",
    "p1_late", "median_ack_s", "max_ack_s", "visits", "help_done", "met", "unmet",
]  # fmt: skip


def to_csv(found: list[Bed], lang: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for b in found:
        writer.writerow([
            b.resident_id, b.name, b.district or "", b.devices, f"{b.online_share:.3f}",
            b.incidents, b.p1, b.p1_late, _secs(b.median_ack_s), _secs(b.max_ack_s),
            b.visits, b.help_done, "yes" if b.met else "no", reasons(b, lang),
        ])  # fmt: skip
    return out.getvalue()


def _secs(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


HEADERS = {
    "zh-CN": ["居民", "姓名", "区", "设备", "在线率", "事件", "P1", "P1超时", "受理中位（秒）",
              "受理最长（秒）", "上门", "求助完成", "达标", "未达标原因"],
    "en": ["resident", "name", "district", "devices", "online", "incidents", "P1", "P1 late",
           "median ack (s)", "max ack (s)", "visits", "help done", "met", "why not"],
}  # fmt: skip


def render(found: list[Bed], *, month: str, criteria: Criteria, lang: str) -> str:
    met = sum(b.met for b in found)
    zh = lang == "zh-CN"
    title = f"家庭养老床位服务月报 {month}" if zh else f"Home care beds, {month}"
    yes, no = ("达标", "未达标") if zh else ("met", "not met")
    rows: list[list[object]] = [
        [
            b.resident_id, b.name, b.district or "", b.devices, f"{b.online_share:.0%}",
            b.incidents, b.p1, b.p1_late, _secs(b.median_ack_s), _secs(b.max_ack_s),
            b.visits, b.help_done,
            Raw(f'<span class="{"met" if b.met else "unmet"}">{yes if b.met else no}</span>'),
            reasons(b, lang),
        ]
        for b in found
    ]  # fmt: skip
    c = criteria
    rules = (
        f"在线率 ≥ {c.min_online_share:.0%}；每个P1在 {c.max_p1_ack_s:.0f} 秒内受理；"
        f"上门或求助完成 ≥ {c.min_visits} 次；每床每月补贴 {c.subsidy_yuan} 元"
        if zh
        else f"online ≥ {c.min_online_share:.0%}; every P1 acknowledged within"
        f" {c.max_p1_ack_s:.0f} s; visits or help done ≥ {c.min_visits}; subsidy"
        f" {c.subsidy_yuan} yuan per bed and month"
    )
    summary = (
        f"<p>{escape(rules)}</p><p>"
        + (
            f"床位 {len(found)}，达标 {met}，补贴合计 {met * c.subsidy_yuan} 元"
            if zh
            else f"{len(found)} beds, {met} met, subsidy {met * c.subsidy_yuan} yuan"
        )
        + "</p>"
    )
    body = summary + table(HEADERS[lang], rows, numeric=frozenset({3, 4, 5, 6, 7, 8, 9, 10, 11}))
    return page(title, body, lang=lang)
