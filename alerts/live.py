"""The detector in the running service: the NumPy engine, kept in step with the database
(`alerts.registry_sync`), remembering across restarts (`alerts.snapshots`), its
periodic work run by `kernel.periodic.every`.

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

import logging
import time
from collections.abc import Iterable

from psycopg_pool import AsyncConnectionPool

from alerts.detect.config import DetectorConfig
from alerts.detect.engine import Engine
from alerts.detect.observations import Observations
from alerts.models import Outcome
from alerts.policy import DEFAULT_POLICY, EscalationPolicy
from alerts.registry_sync import RegistrySync
from alerts.service import apply_outcomes
from alerts.snapshots import save_snapshot
from kernel.outage import DB_UNAVAILABLE, OutageLog
from kernel.periodic import every

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
        policy: EscalationPolicy = DEFAULT_POLICY,
    ) -> None:
        self.engine = Engine(config)
        self.policy = policy
        self._pool = pool
        self._sweep_s = sweep_s
        self._refresh_s = refresh_s
        self._snapshot_s = snapshot_s
        self._pending: list[Outcome] = []  # swept but not yet written (database away)
        self._sync = RegistrySync(self.engine, pool)
        self._outage = outage or OutageLog(log)

    # -- keeping the registry in step -------------------------------------------------

    async def load(self) -> None:
        """Everything from the database, then the snapshot; watch from now on."""
        await self._sync.load()

    async def learn(self, device_ids: Iterable[str]) -> set[str]:
        """Read devices (and their residents) the engine has not been told about;
        returns the ids that are not registered devices."""
        return await self._sync.learn(device_ids)

    async def refresh(self) -> None:
        """Re-read residents whose record or overrides changed since the last look."""
        await self._sync.refresh()

    def watch_from(self, ts: float) -> None:
        """Nothing was observed before `ts` (the database was away)."""
        self.engine.watch_from(ts)

    # -- detecting ----------------------------------------------------------------------

    def observe(self, obs: Observations) -> list[Outcome]:
        return self.engine.observe(obs)

    async def apply(self, outcomes: list[Outcome]) -> int:
        """Write outcomes as alerts in one transaction; returns how many opened."""
        async with self._pool.connection() as conn, conn.transaction():
            return await apply_outcomes(conn=conn, outcomes=outcomes, policy=self.policy)

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
        await every(
            self._sweep_s, lambda: self.sweep_once(time.time()), self._outage, reaches_db=False
        )

    async def run_refresh(self) -> None:
        """Re-read changed residents and overrides every `refresh_s` until cancelled."""
        await every(self._refresh_s, self.refresh, self._outage)

    async def run_snapshots(self) -> None:
        """Save what was learned every `snapshot_s` until cancelled."""
        await every(self._snapshot_s, self.save, self._outage)

    # -- remembering --------------------------------------------------------------------

    async def save(self) -> int:
        """Save what was learned; returns the devices saved."""
        return await save_snapshot(self._pool, self.engine.learned())
