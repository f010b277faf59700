"""Register service points (dispatch owns the `service_points` table)."""

from collections.abc import Sequence

from psycopg import AsyncConnection

from dispatch.models import ServicePointIn


async def add_service_points(*, conn: AsyncConnection, points: Sequence[ServicePointIn]) -> int:
    """Insert service points, keeping existing ones as they are; returns how many given."""
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO service_points (id, name, kind, lat, lon, address)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
            [(p.id, p.name, str(p.kind), p.lat, p.lon, p.address) for p in points],
        )
    return len(points)
