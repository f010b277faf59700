"""The detector in the running service: the NumPy engine, kept in step with the database.

- At start it loads every resident, device and override, restores the last snapshot of
  what it learned (baselines, when each device was last heard from), and watches from
  now: a device that went quiet while the service was down is reported three intervals
  after start, never in a burst for the whole downtime.
- Ingest hands it each committed batch; a device registered since the last look is
  read from the database before its first reading is observed.
- A sweep every second runs the time-based rules (offline, inactivity, night rules).
- Residents and overrides changed in the database are re-read every `refresh_s`.
- What it learned is saved every `snapshot_s` and when the service stops.

Findings become alerts through `alerts.service.apply_outcomes`, the one place alerts
are opened; their dedup keys make a replayed batch or a second instance harmless.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta

import numpy as np
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from alerts.detect.config import DetectorConfig, Overrides
from alerts.detect.engine import Engine, Learned
from alerts.detect.observations import METRICS, Observations
from alerts.detect.registry import DeviceInfo, HomeInfo
from alerts.models import Outcome
from alerts.overrides import InvalidOverride, overrides_by_resident, parse_overrides
from alerts.service import apply_outcomes
from devices.models import Device, Resident
from devices.service import devices_by_id, residents_by_id
from kernel.db import DB_UNAVAILABLE, OutageLog

log = logging.getLogger("anxin.detector")


class LiveDetector:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        config: DetectorConfig | None = None,
        *,
        sweep_s: float = 1.0,
        refresh_s: float = 30.0,
        snapshot_s: float = 300.0,
        outage: OutageLog | None = None,
    ) -> None:
        self.engine = Engine(config)
        self._pool = pool
        self._sweep_s = sweep_s
        self._refresh_s = refresh_s
        self._snapshot_s = snapshot_s
        self._pending: list[Outcome] = []  # swept but not yet written (database away)
        self._refreshed_at: datetime | None = None
        self._outage = outage or OutageLog(log)

    # -- keeping the registry in step -------------------------------------------------

    async def load(self) -> None:
        """Everything from the database, then the snapshot; watch from now on."""
        async with self._pool.connection() as conn:
            self._refreshed_at = await _db_now(conn)
            residents = await residents_by_id(conn=conn)
            devices = await devices_by_id(conn=conn)
            overrides = await overrides_by_resident(conn=conn)
            learned = await _load_snapshot(conn)
        self.engine.register(
            homes=[_home(r, overrides.get(r.id, {})) for r in residents],
            devices=[_device(d) for d in devices],
        )
        self.engine.restore(learned)
        self.engine.watch_from(time.time())
        log.info(
            "detector loaded",
            extra={
                "fields": {
                    "residents": len(residents),
                    "devices": len(devices),
                    "snapshot_devices": len(learned.device_ids),
                }
            },
        )

    async def learn(self, device_ids: Iterable[str]) -> set[str]:
        """Read devices (and their residents) the engine has not been told about;
        returns the ids that are not registered devices."""
        unseen = self.engine.registry.unknown(device_ids)
        if not unseen:
            return unseen
        async with self._pool.connection() as conn:
            devices = await devices_by_id(conn=conn, ids=unseen)
            rids = {d.resident_id for d in devices if d.resident_id is not None}
            rids -= set(self.engine.registry.resident_ids)
            residents = await residents_by_id(conn=conn, ids=rids) if rids else []
            overrides = await overrides_by_resident(conn=conn, ids=rids) if rids else {}
        self.engine.register(
            homes=[_home(r, overrides.get(r.id, {})) for r in residents],
            devices=[_device(d) for d in devices],
        )
        return unseen.difference(d.id for d in devices)

    async def refresh(self) -> None:
        """Re-read residents whose record or overrides changed since the last look."""
        async with self._pool.connection() as conn:
            now = await _db_now(conn)
            # a margin for transactions that committed late with an earlier now()
            since = (self._refreshed_at or now) - timedelta(seconds=60)
            changed = set(await overrides_by_resident(conn=conn, changed_since=since))
            changed |= {r.id for r in await residents_by_id(conn=conn, changed_since=since)}
            if not changed:
                self._refreshed_at = now
                return
            residents = await residents_by_id(conn=conn, ids=changed)
            overrides = await overrides_by_resident(conn=conn, ids=changed)
        self.engine.register(homes=[_home(r, overrides.get(r.id, {})) for r in residents])
        self._refreshed_at = now

    def watch_from(self, ts: float) -> None:
        """Nothing was observed before `ts` (the database was away)."""
        self.engine.watch_from(ts)

    # -- detecting ----------------------------------------------------------------------

    def observe(self, obs: Observations) -> list[Outcome]:
        return self.engine.observe(obs)

    async def apply(self, outcomes: list[Outcome]) -> int:
        """Write outcomes as alerts in one transaction; returns how many opened."""
        async with self._pool.connection() as conn, conn.transaction():
            return await apply_outcomes(conn=conn, outcomes=outcomes)

    async def sweep_once(self, now: float) -> int:
        """Run the time-based rules and write what they found (kept while the database
        is away, and written on a later sweep)."""
        self._pending += self.engine.sweep(now)
        if not self._pending:
            return 0
        try:
            opened = await self.apply(self._pending)
        except DB_UNAVAILABLE:
            raise
        except Exception:  # e.g. refused for content: retrying the same would fail again
            log.error("dropping %d swept outcomes that could not be written", len(self._pending))
            self._pending = []
            raise
        self._pending = []
        self._outage.succeeded()
        return opened

    async def run_sweeps(self) -> None:
        """Sweep every `sweep_s` until cancelled."""
        # a sweep with nothing to write never reaches the database: it cannot tell
        # that an outage ended, so sweep_once says so itself when it wrote
        await self._every(self._sweep_s, lambda: self.sweep_once(time.time()), reaches_db=False)

    async def run_refresh(self) -> None:
        """Re-read changed residents and overrides every `refresh_s` until cancelled."""
        await self._every(self._refresh_s, self.refresh)

    async def run_snapshots(self) -> None:
        """Save what was learned every `snapshot_s` until cancelled."""
        await self._every(self._snapshot_s, self.save)

    async def _every(
        self, period_s: float, step: Callable[[], Awaitable[object]], *, reaches_db: bool = True
    ) -> None:
        """Run `step` every period. The database being away is waited out (and logged
        once for the whole service); any other error ends the loop, for the
        supervisor to log, report and restart."""
        while True:
            await asyncio.sleep(period_s)
            attempt_started = time.monotonic()
            try:
                await step()
            except DB_UNAVAILABLE as exc:
                self._outage.failed(exc, attempt_started=attempt_started)
                continue
            if reaches_db:
                self._outage.succeeded()

    # -- remembering --------------------------------------------------------------------

    async def save(self) -> int:
        """Upsert the snapshot of every device heard from or learned; returns rows."""
        learned = self.engine.learned()
        keep = np.isfinite(learned.last_seen) | (learned.baseline[:, 2].max(axis=1) > 0)
        rows = np.flatnonzero(keep)
        async with self._pool.connection() as conn, conn.transaction():
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
                FROM stage_detector_state st JOIN devices d ON d.id = st.device_id
                ON CONFLICT (device_id) DO UPDATE SET last_seen = EXCLUDED.last_seen,
                    base_mean = EXCLUDED.base_mean, base_var = EXCLUDED.base_var,
                    base_n = EXCLUDED.base_n, saved_at = EXCLUDED.saved_at
                """
            )
        return len(rows)


async def _db_now(conn: AsyncConnection) -> datetime:
    cur = await conn.execute("SELECT now()")
    row = await cur.fetchone()
    assert row is not None
    now: datetime = row[0]
    return now


async def _load_snapshot(conn: AsyncConnection) -> Learned:
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


def _home(r: Resident, settings: dict[str, object]) -> HomeInfo:
    try:
        overrides = parse_overrides(settings)
    except InvalidOverride as exc:  # edited by hand in the database: defaults, and say so
        log.warning("resident %s: ignoring stored overrides: %s", r.id, exc)
        overrides = Overrides()
    return HomeInfo(r.id, frozenset(r.flags), r.home_lat, r.home_lon, overrides)


def _device(d: Device) -> DeviceInfo:
    return DeviceInfo(d.id, d.kind, d.resident_id, float(d.expected_interval_s))
