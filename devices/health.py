"""Devices that are not doing their job, as maintenance tasks on a list (never pages to
the call centre): one registered a day ago that has never been heard from; an SOS
button (or a watch's) not test-pressed within the week, which China's smart elderly
care service standards ask for; a battery that will be empty within the week at its
trend of the last seven days, or that says it is low.

Computed from the stored readings when asked: the list is always what the data says
now, and a task disappears by itself once the device does its job.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from pydantic import BaseModel

from kernel.language import Lang

# a test press is a press: the kinds whose owners carry an SOS button
SOS_KINDS = ("sos_button", "watch")
SHANGHAI = ZoneInfo("Asia/Shanghai")
EMPTY_PCT = 10.0  # a battery under this will not carry a device through a night

TEXTS: dict[str, tuple[str, str]] = {
    "never_connected": (
        "登记 {hours:.0f} 小时仍未连接过：请检查安装、账号和网络",
        "registered {hours:.0f} h ago and never heard from: check installation, account, network",
    ),
    "sos_untested": (
        "{days} 天内未做一键呼叫测试（上次：{last}）：请联系老人按键测试",
        "no SOS test press within {days} days (last: {last}): ask the resident to test it",
    ),
    "battery_draining": (
        "电量 {battery:.0f}%，每天下降 {per_day:.1f}%，"
        "约 {days_left:.1f} 天后耗尽：请充电或更换电池",
        "battery {battery:.0f} %, falling {per_day:.1f} %/day, empty in about {days_left:.1f}"
        " days: charge or replace it",
    ),
    "battery_low": (
        "设备报告电量低（{at}）：请更换电池",
        "the device reports a low battery ({at}): replace it",
    ),
}


@dataclass(frozen=True)
class Thresholds:
    first_contact: timedelta = timedelta(days=1)
    sos_test: timedelta = timedelta(days=7)
    battery_horizon_days: float = 7.0


class Task(BaseModel):
    device_id: str
    kind: str
    resident_id: str | None
    district: str | None
    task: str  # a key of TEXTS
    values: dict[str, Any]
    text: str


async def maintenance_tasks(
    *,
    conn: AsyncConnection,
    now: datetime,
    thresholds: Thresholds,
    districts: list[str] | None = None,
    lang: Lang = Lang.ZH,
    tz: ZoneInfo = SHANGHAI,
) -> list[Task]:
    """Every open task, by device; `districts` limits them to those districts'. Times
    in the words are in `tz`, the operators' zone."""

    def when(at: datetime) -> str:
        return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    found: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
    params = {"now": now, "districts": districts or None, "sos_kinds": list(SOS_KINDS),
              "first": thresholds.first_contact, "test": thresholds.sos_test}  # fmt: skip
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_NEVER_CONNECTED, params)
        for row in await cur.fetchall():
            hours = (now - row["registered_at"]).total_seconds() / 3600
            found.append((row, "never_connected", {"hours": hours}))
        await cur.execute(_SOS_UNTESTED, params)
        for row in await cur.fetchall():
            last = when(row["last_press"]) if row["last_press"] else "-"
            found.append((row, "sos_untested", {"days": thresholds.sos_test.days, "last": last}))
        await cur.execute(_BATTERY, params)
        for row in await cur.fetchall():
            per_day = -float(row["slope_per_day"] or 0)
            if row["low_at"] is not None:
                found.append((row, "battery_low", {"at": when(row["low_at"])}))
            elif per_day > 0 and row["battery"] is not None:
                days_left = max(0.0, (float(row["battery"]) - EMPTY_PCT) / per_day)
                if days_left <= thresholds.battery_horizon_days:
                    values = {"battery": float(row["battery"]), "per_day": per_day,
                              "days_left": days_left}  # fmt: skip
                    found.append((row, "battery_draining", values))
    return [
        Task(
            device_id=row["id"],
            kind=row["kind"],
            resident_id=row["resident_id"],
            district=row["district"],
            task=task,
            values=values,
            text=TEXTS[task][0 if lang is Lang.ZH else 1].format(**values),
        )
        for row, task, values in sorted(found, key=lambda f: (f[0]["id"], f[1]))
    ]


_DEVICES = """
    SELECT d.id, d.kind, d.resident_id, d.registered_at, r.district
    FROM devices d LEFT JOIN residents r ON r.id = d.resident_id
    WHERE (%(districts)s::text[] IS NULL OR r.district = ANY(%(districts)s))
"""

_NEVER_CONNECTED = f"""
    WITH d AS ({_DEVICES})
    SELECT d.* FROM d
    WHERE d.registered_at < %(now)s - %(first)s
      AND NOT EXISTS (SELECT 1 FROM stored_status x WHERE x.device_id = d.id)
      AND NOT EXISTS (SELECT 1 FROM stored_vitals x WHERE x.device_id = d.id)
      AND NOT EXISTS (SELECT 1 FROM stored_events x WHERE x.device_id = d.id)
      AND NOT EXISTS (SELECT 1 FROM stored_locations x WHERE x.device_id = d.id)
"""

# a press is an `sos` event: a real emergency is a test of the button too
_SOS_UNTESTED = f"""
    WITH d AS ({_DEVICES})
    SELECT d.*, (SELECT max(ts) FROM stored_events e WHERE e.device_id = d.id AND e.type = 'sos')
        AS last_press
    FROM d
    WHERE d.kind = ANY(%(sos_kinds)s) AND d.registered_at < %(now)s - %(test)s
      AND NOT EXISTS (SELECT 1 FROM stored_events e WHERE e.device_id = d.id AND e.type = 'sos'
                      AND e.ts > %(now)s - %(test)s)
"""

# the battery's least-squares trend over the last 7 days, from status and vitals alike
_BATTERY = f"""
    WITH d AS ({_DEVICES}),
    levels AS (
        SELECT device_id, ts, battery FROM stored_status
        WHERE battery IS NOT NULL AND ts > %(now)s - interval '7 days' AND ts <= %(now)s
        UNION ALL
        SELECT device_id, ts, battery FROM stored_vitals
        WHERE battery IS NOT NULL AND ts > %(now)s - interval '7 days' AND ts <= %(now)s
    ),
    trend AS (
        SELECT device_id,
            regr_slope(battery, extract(epoch FROM ts)) * 86400 AS slope_per_day,
            (array_agg(battery ORDER BY ts DESC))[1] AS battery,
            count(*) AS n, max(ts) - min(ts) AS span
        FROM levels GROUP BY device_id
    ),
    low AS (
        SELECT device_id, max(ts) AS low_at FROM stored_events
        WHERE type = 'battery_low' AND ts > %(now)s - interval '3 days' AND ts <= %(now)s
        GROUP BY device_id
    )
    SELECT d.*, t.slope_per_day, t.battery, low.low_at
    FROM d LEFT JOIN trend t ON t.device_id = d.id
        AND t.n >= 3 AND t.span >= interval '12 hours'
    LEFT JOIN low ON low.device_id = d.id
    WHERE t.device_id IS NOT NULL OR low.device_id IS NOT NULL
"""
