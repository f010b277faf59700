"""What the detector learned, kept across restarts: baselines and when each device was
last heard from, saved every few minutes and at shutdown, restored at start."""

import numpy as np
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from alerts.detect.engine import Learned
from alerts.detect.observations import METRICS


async def save_snapshot(pool: AsyncConnectionPool, learned: Learned) -> int:
    """Upsert the snapshot of every device heard from or learned; returns rows."""
    keep = np.isfinite(learned.last_seen) | (learned.baseline[:, 2].max(axis=1) > 0)
    rows = np.flatnonzero(keep)
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS stage_detector_state"
            " (device_id text, last_seen float8, base_mean real[], base_var real[],"
            " base_n real[]) ON COMMIT DELETE ROWS"
        )
        async with conn.cursor().copy(
            "COPY stage_detector_state FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["text", "float8", "float4[]", "float4[]", "float4[]"])
            # whole arrays to Python once; NaN ("not learned yet") is a valid real
            ids = [learned.device_ids[i] for i in rows]
            seen = learned.last_seen[rows].tolist()
            base = learned.baseline[rows].tolist()
            for row in zip(ids, seen, base, strict=True):
                await copy.write_row((row[0], row[1], *row[2]))
        await conn.execute(
            """
            INSERT INTO detector_state
                (device_id, last_seen, base_mean, base_var, base_n, saved_at)
            SELECT st.device_id, to_timestamp(nullif(st.last_seen, 'NaN')),
                   st.base_mean, st.base_var, st.base_n, now()
            FROM stage_detector_state st JOIN device_register d ON d.id = st.device_id
            ON CONFLICT (device_id) DO UPDATE SET last_seen = EXCLUDED.last_seen,
                base_mean = EXCLUDED.base_mean, base_var = EXCLUDED.base_var,
                base_n = EXCLUDED.base_n, saved_at = EXCLUDED.saved_at
            """
        )
    return len(rows)


async def load_snapshot(*, conn: AsyncConnection) -> Learned:
    cur = await conn.execute(
        "SELECT device_id, extract(epoch FROM last_seen)::float8, base_mean, base_var, base_n"
        " FROM detector_state"
    )
    # rows saved for another set of metrics are left out
    m = len(METRICS)
    rows = [r for r in await cur.fetchall() if len(r[2]) == len(r[3]) == len(r[4]) == m]
    return Learned(
        device_ids=[r[0] for r in rows],
        # a device saved before it was ever heard from has NULL, read as NaN
        last_seen=np.array([r[1] for r in rows], np.float64).reshape(len(rows)),
        baseline=np.array([r[2:] for r in rows], np.float32).reshape(len(rows), 3, m),
    )
