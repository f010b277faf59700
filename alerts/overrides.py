"""Per-resident detector settings: stored as JSON, validated by `Overrides`."""

import json
from collections.abc import Iterable, Mapping
from datetime import datetime

from psycopg import AsyncConnection
from pydantic import ValidationError

from alerts.detect.config import Overrides
from devices.errors import UnknownResident
from kernel.errors import Invalid
from kernel.validation import describe


class InvalidOverride(Invalid):
    code = "invalid_override"
    zh_default = "个人阈值设置有误"


def parse_overrides(settings: Mapping[str, object]) -> Overrides:
    """Validated settings, or one line saying which key is wrong and why."""
    try:
        return Overrides.model_validate(settings)
    except ValidationError as exc:
        problems = describe(exc, lambda loc: ".".join(map(str, loc)) or "settings")
        allowed = ", ".join(Overrides.model_fields)
        msg = f"invalid override ({problems}); settable: {allowed}"
        raise InvalidOverride(msg) from None


async def get_overrides(*, conn: AsyncConnection, resident_id: str) -> dict[str, object]:
    """What is set for one resident (keys not set take the city-wide default)."""
    cur = await conn.execute(
        "SELECT r.id, o.settings FROM resident_directory r"
        " LEFT JOIN resident_overrides o ON o.resident_id = r.id WHERE r.id = %s",
        (resident_id,),
    )
    row = await cur.fetchone()
    if row is None:
        msg = f"unknown resident {resident_id!r}"
        raise UnknownResident(msg)
    return dict(row[1] or {})


async def set_overrides(
    *, conn: AsyncConnection, resident_id: str, changes: Mapping[str, object]
) -> dict[str, object]:
    """Merge `changes` into a resident's settings; a None value removes the key.

    The merged whole is validated before anything is written.
    """
    current = await get_overrides(conn=conn, resident_id=resident_id)
    merged = {k: v for k, v in {**current, **changes}.items() if v is not None}
    parse_overrides(merged)
    await conn.execute(
        """
        INSERT INTO resident_overrides (resident_id, settings) VALUES (%s, %s)
        ON CONFLICT (resident_id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()
        """,
        (resident_id, json.dumps(merged)),
    )
    return merged


async def overrides_by_resident(
    *,
    conn: AsyncConnection,
    ids: Iterable[str] | None = None,
    changed_since: datetime | None = None,
) -> dict[str, dict[str, object]]:
    """Stored settings per resident id, for these ids or all, optionally only recent ones."""
    cur = await conn.execute(
        "SELECT resident_id, settings FROM resident_overrides"
        " WHERE (%(ids)s::text[] IS NULL OR resident_id = ANY(%(ids)s))"
        " AND (%(since)s::timestamptz IS NULL OR updated_at >= %(since)s)",
        {"ids": None if ids is None else list(ids), "since": changed_since},
    )
    return {rid: dict(settings) for rid, settings in await cur.fetchall()}
