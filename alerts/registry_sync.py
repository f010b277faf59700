"""Keeping the detector's registry in step with the database: everything at start,
a device registered since the last look before its first reading is observed, and
residents and overrides changed in the database every `refresh_s`."""

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from alerts.detect.config import Overrides
from alerts.detect.engine import Engine
from alerts.detect.registry import DeviceInfo, HomeInfo
from alerts.overrides import InvalidOverride, overrides_by_resident, parse_overrides
from alerts.snapshots import load_snapshot
from devices.models import Device, Resident
from devices.service import devices_by_id, registered, residents_by_id

log = logging.getLogger("anxin.detector")


class RegistrySync:
    def __init__(self, engine: Engine, pool: AsyncConnectionPool) -> None:
        self.engine = engine
        self._pool = pool
        self._refreshed_at: datetime | None = None

    async def load(self) -> None:
        """Everything from the database, then the snapshot; watch from now on."""
        async with self._pool.connection() as conn:
            self._refreshed_at = await _db_now(conn)
            residents = await residents_by_id(conn=conn)
            devices = await devices_by_id(conn=conn)
            overrides = await overrides_by_resident(conn=conn)
            learned = await load_snapshot(conn=conn)
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
            devices, unregistered = await registered(conn=conn, ids=unseen)
            rids = {d.resident_id for d in devices if d.resident_id is not None}
            rids -= set(self.engine.registry.resident_ids)
            residents = await residents_by_id(conn=conn, ids=rids) if rids else []
            overrides = await overrides_by_resident(conn=conn, ids=rids) if rids else {}
        self.engine.register(
            homes=[_home(r, overrides.get(r.id, {})) for r in residents],
            devices=[_device(d) for d in devices],
        )
        return unregistered

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


async def _db_now(conn: AsyncConnection) -> datetime:
    cur = await conn.execute("SELECT now()")
    row = await cur.fetchone()
    assert row is not None
    now: datetime = row[0]
    return now


def _home(r: Resident, settings: dict[str, object]) -> HomeInfo:
    try:
        overrides = parse_overrides(settings)
    except InvalidOverride as exc:  # edited by hand in the database: defaults, and say so
        log.warning("resident %s: ignoring stored overrides: %s", r.id, exc)
        overrides = Overrides()
    return HomeInfo(r.id, frozenset(r.flags), r.home_lat, r.home_lon, overrides)


def _device(d: Device) -> DeviceInfo:
    return DeviceInfo(d.id, d.kind, d.resident_id, float(d.expected_interval_s))
