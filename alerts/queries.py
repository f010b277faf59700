"""What operators read: the incident queue, alerts, one alert with everything an
operator needs on the phone. Every query is limited to what the caller may see."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from access.accounts import Principal, Role
from alerts.errors import UnknownAlert, UnknownIncident
from alerts.models import AlertStatus, Severity
from alerts.reasons import Lang, explain
from kernel.errors import Invalid

ACTIVE = [str(s) for s in AlertStatus if not s.closed]


def visible(user: Principal, params: dict[str, Any]) -> sql.Composable:
    """The condition on incidents `i` that limits rows to what `user` may see."""
    if user.role is Role.SERVICE_POINT:
        params["scope_point"] = user.service_point_id
        return sql.SQL("i.service_point_id = %(scope_point)s")
    if user.role is Role.CAREGIVER:
        params["scope_phone"] = user.phone
        return sql.SQL(
            "i.resident_id IN (SELECT resident_id FROM contact_directory"
            " WHERE phone = %(scope_phone)s)"
        )
    if user.districts and user.role in (Role.OPERATOR, Role.SUPERVISOR):
        params["scope_districts"] = list(user.districts)
        return sql.SQL("i.district = ANY(%(scope_districts)s)")
    return sql.SQL("TRUE")


@dataclass(frozen=True)
class Filters:
    statuses: list[AlertStatus] | None = None  # None: those not yet closed
    priorities: list[Severity] | None = None
    district: str | None = None
    service_point_id: str | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None

    def where(self, user: Principal, params: dict[str, Any]) -> sql.Composable:
        params["statuses"] = [str(s) for s in self.statuses] if self.statuses else ACTIVE
        params["priorities"] = [str(p) for p in self.priorities] if self.priorities else None
        params.update(
            district=self.district,
            point=self.service_point_id,
            opened_from=self.opened_from,
            opened_to=self.opened_to,
        )
        return sql.SQL(" AND ").join(
            [
                sql.SQL("i.status = ANY(%(statuses)s)"),
                sql.SQL("(%(priorities)s::text[] IS NULL OR i.severity = ANY(%(priorities)s))"),
                sql.SQL("(%(district)s::text IS NULL OR i.district = %(district)s)"),
                sql.SQL("(%(point)s::text IS NULL OR i.service_point_id = %(point)s)"),
                sql.SQL("(%(opened_from)s::timestamptz IS NULL OR i.opened_at >= %(opened_from)s)"),
                sql.SQL("(%(opened_to)s::timestamptz IS NULL OR i.opened_at < %(opened_to)s)"),
                visible(user, params),
            ]
        )


# -- cursors: the sort key of the last row of a page, opaque to clients ---------------


# `P1.1733390000123456.42`: priority, opened_at in µs since 1970 (UTC), id. Every
# text of this form is a place in the order, so the OpenAPI document can say exactly
# which cursors the API takes (CURSOR_PATTERN) and any of them works.
CURSOR_PATTERN = r"^P[123]\.[0-9]{1,17}\.[0-9]{1,16}$"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def encode_cursor(severity: str, opened_at: datetime, row_id: int) -> str:
    return f"{severity}.{(opened_at - _EPOCH) // _MICROSECOND}.{row_id}"


def decode_cursor(cursor: str | None) -> tuple[str, datetime, int] | None:
    if cursor is None:
        return None
    if not re.fullmatch(CURSOR_PATTERN, cursor):
        msg = "cursor: not one this API handed out (use next_cursor from a previous page)"
        raise Invalid(msg)
    severity, micros, row_id = cursor.split(".")
    return Severity(severity), _EPOCH + int(micros) * _MICROSECOND, int(row_id)


def _after(cursor: str | None, params: dict[str, Any], sort: str) -> sql.Composable:
    key = decode_cursor(cursor)
    if key is None:
        return sql.SQL("TRUE")
    params["c_sev"], params["c_at"], params["c_id"] = key
    return sql.SQL(f"({sort}) > (%(c_sev)s, %(c_at)s, %(c_id)s)")


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


# -- the queue ------------------------------------------------------------------------

_INCIDENT_COLUMNS = """
    i.id, i.status, i.severity, i.escalation_level, i.escalate_at AS ack_deadline,
    i.opened_at, i.last_seen_at, i.acknowledged_at, i.dispatched_at, i.on_scene_at,
    i.closed_at, i.outcome, i.district, i.service_point_id, i.device_id, i.resident_id,
    r.name AS resident_name, r.address AS resident_address,
    (SELECT e.action FROM alert_audit e WHERE e.incident_id = i.id ORDER BY e.id DESC LIMIT 1)
        AS last_action,
    (SELECT e.at FROM alert_audit e WHERE e.incident_id = i.id ORDER BY e.id DESC LIMIT 1)
        AS last_at,
    (SELECT coalesce(sum(a.count), 0) FROM alerts a WHERE a.incident_id = i.id)::int
        AS finding_count,
    (SELECT json_agg(json_build_object('id', a.id, 'rule', a.rule, 'severity', a.severity,
                     'count', a.count, 'observed_at', a.observed_at, 'data', a.data,
                     'reason', a.reason, 'reason_code', a.reason_code,
                     'reason_values', a.reason_values)
                     ORDER BY a.severity, a.id)
     FROM alerts a WHERE a.incident_id = i.id) AS alerts
"""


_ALERT_COLUMNS = """
    a.id, a.incident_id, a.status, a.severity, a.rule, a.reason, a.data, a.count,
    a.opened_at, a.observed_at, a.last_seen_at, a.device_id, a.resident_id,
    a.reason_code, a.reason_values
"""


async def list_incidents(
    *,
    conn: AsyncConnection,
    user: Principal,
    filters: Filters,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """One row per incident, most urgent first, then oldest first."""
    rows = (
        "SELECT {columns} FROM incidents i LEFT JOIN resident_directory r ON r.id = i.resident_id"
    )
    return await _paged(
        conn, user, filters, limit, cursor, rows.format(columns=_INCIDENT_COLUMNS), "i"
    )


async def get_incident(
    *, conn: AsyncConnection, user: Principal, incident_id: int
) -> dict[str, Any]:
    """One row of the queue, as list_incidents gives it; 404 outside the caller's scope."""
    params: dict[str, Any] = {"id": incident_id}
    query = sql.SQL(
        "SELECT {columns} FROM incidents i LEFT JOIN resident_directory r ON r.id = i.resident_id"
        " WHERE i.id = %(id)s AND {visible}"
    ).format(columns=sql.SQL(_INCIDENT_COLUMNS), visible=visible(user, params))
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        row = await cur.fetchone()
    if row is None:
        msg = f"no incident {incident_id}"
        raise UnknownIncident(msg)
    return row


async def list_alerts(
    *,
    conn: AsyncConnection,
    user: Principal,
    filters: Filters,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    rows = (
        f"SELECT {_ALERT_COLUMNS}, i.district, i.service_point_id"
        " FROM alerts a JOIN incidents i ON i.id = a.incident_id"
    )
    return await _paged(conn, user, filters, limit, cursor, rows, "a")


async def _paged(
    conn: AsyncConnection,
    user: Principal,
    filters: Filters,
    limit: int,
    cursor: str | None,
    rows: str,
    table: str,
) -> Page:
    """A page of `rows` (a SELECT ... FROM naming incidents `i`) within the filters and
    the user's scope, sorted by `table`'s severity, opening time and id."""
    params: dict[str, Any] = {"limit": limit + 1}
    sort = f"{table}.severity, {table}.opened_at, {table}.id"
    query = sql.SQL(rows + " WHERE {where} AND {after} ORDER BY {sort} LIMIT %(limit)s").format(
        where=filters.where(user, params),
        after=_after(cursor, params, sort),
        sort=sql.SQL(sort),
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        found = await cur.fetchall()
    return _page(found, limit)


def _page(rows: list[dict[str, Any]], limit: int) -> Page:
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more else None
    cursor = encode_cursor(last["severity"], last["opened_at"], last["id"]) if last else None
    return Page(rows, cursor)


# -- one alert, with what the operator needs on the phone -----------------------------


async def check_visible(*, conn: AsyncConnection, user: Principal, alert_id: int) -> None:
    """UnknownAlert (404) unless the alert exists and `user` may see it: a caller
    outside its scope learns nothing, not even that it exists."""
    params: dict[str, Any] = {"id": alert_id}
    query = sql.SQL(
        "SELECT 1 FROM alerts a JOIN incidents i ON i.id = a.incident_id"
        " WHERE a.id = %(id)s AND {visible}"
    ).format(visible=visible(user, params))
    cur = await conn.execute(query, params)
    if await cur.fetchone() is None:
        msg = f"no alert {alert_id}"
        raise UnknownAlert(msg)


async def get_alert(*, conn: AsyncConnection, user: Principal, alert_id: int) -> dict[str, Any]:
    """The alert, its incident and timeline, the resident and contacts, the device with
    its battery, and the device's last 24 h of vitals. Unknown or not visible: 404."""
    params: dict[str, Any] = {"id": alert_id}
    query = sql.SQL(
        f"SELECT {_ALERT_COLUMNS} FROM alerts a JOIN incidents i ON i.id = a.incident_id"
        " WHERE a.id = %(id)s AND {visible}"
    ).format(visible=visible(user, params))
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        alert = await cur.fetchone()
        if alert is None:
            msg = f"no alert {alert_id}"
            raise UnknownAlert(msg)
        alert["incident"] = await get_incident(
            conn=conn, user=user, incident_id=alert["incident_id"]
        )
        alert["timeline"] = await timeline(cur, alert["incident_id"])
        alert["resident"] = await _resident(cur, alert["resident_id"])
        alert["device"] = await _device(cur, alert["device_id"])
        await cur.execute(
            "SELECT ts, hr, spo2, temp, sbp, dbp, rr FROM stored_vitals WHERE device_id = %s"
            " AND ts > now() - interval '24 hours' ORDER BY ts",
            (alert["device_id"],),
        )
        alert["vitals_24h"] = await cur.fetchall()
    return alert


async def timeline(cur: Any, incident_id: int) -> list[dict[str, Any]]:
    await cur.execute(
        "SELECT id, at, actor, action, alert_id, from_status, to_status, note, data"
        " FROM alert_audit WHERE incident_id = %s ORDER BY id",
        (incident_id,),
    )
    rows: list[dict[str, Any]] = await cur.fetchall()
    return rows


async def _resident(cur: Any, resident_id: str | None) -> dict[str, Any] | None:
    if resident_id is None:
        return None
    await cur.execute(
        "SELECT id, name, birth_date, phone, address, district, community, medical_notes,"
        " allergies, mobility, access_notes, language, flags, home_lat, home_lon"
        " FROM resident_directory WHERE id = %s",
        (resident_id,),
    )
    resident: dict[str, Any] | None = await cur.fetchone()
    if resident is not None:
        await cur.execute(
            "SELECT position, name, relation, phone, sms FROM contact_directory"
            " WHERE resident_id = %s ORDER BY position",
            (resident_id,),
        )
        resident["contacts"] = await cur.fetchall()
    return resident


async def _device(cur: Any, device_id: str) -> dict[str, Any]:
    """The device, whether it is online, and its battery as last reported on either
    channel (status or vitals), whichever is newer."""
    await cur.execute(
        """
        SELECT d.id, d.kind, d.expected_interval_s,
               (SELECT battery FROM (
                    (SELECT ts, battery FROM stored_status WHERE device_id = d.id
                     AND battery IS NOT NULL ORDER BY ts DESC LIMIT 1)
                    UNION ALL
                    (SELECT ts, battery FROM stored_vitals WHERE device_id = d.id
                     AND battery IS NOT NULL AND ts > now() - interval '7 days'
                     ORDER BY ts DESC LIMIT 1)
                ) latest ORDER BY ts DESC LIMIT 1) AS battery,
               (SELECT online FROM stored_status s WHERE s.device_id = d.id
                AND online IS NOT NULL ORDER BY ts DESC LIMIT 1) AS online
        FROM device_register d WHERE d.id = %s
        """,
        (device_id,),
    )
    device: dict[str, Any] = await cur.fetchone()
    return device


def explain_all(rows: list[dict[str, Any]], lang: Lang) -> None:
    """Reasons in words for alerts, incidents (their alerts) and one alert's timeline."""
    for row in rows:
        explain(row, lang)
        for alert in row.get("alerts") or []:
            explain(alert, lang)
        incident = row.get("incident")
        if isinstance(incident, dict):
            explain_all([incident], lang)
        for event in row.get("timeline") or []:
            explain(event, lang)
