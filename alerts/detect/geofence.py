"""Wandering at night: a resident with dementia outside their home zone."""

import numpy as np

from alerts.detect.arrays import grown
from alerts.detect.clock import LocalClock
from alerts.detect.config import DetectorConfig
from alerts.detect.episodes import Episodes
from alerts.detect.findings import finding
from alerts.detect.observations import Locations
from alerts.detect.registry import Registry
from alerts.models import Finding, Severity

EARTH_RADIUS_M = 6_371_000.0


def distance_m(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance (haversine)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0))))


class GeofenceRule:
    def __init__(self, registry: Registry, config: DetectorConfig) -> None:
        self.registry = registry
        self.clock = LocalClock(config)
        self.last_ts = np.zeros(0, np.float64)
        self.outside = Episodes(k=config.geofence_readings_to_fire, clear_s=config.clear_s)

    def resize(self, n: int) -> None:
        self.last_ts = grown(self.last_ts, n, -np.inf)
        self.outside.resize(n)

    def state_bytes(self) -> int:
        return self.last_ts.nbytes + self.outside.state_bytes()

    def observe(self, loc: Locations) -> list[Finding]:
        """One round of locations."""
        r = self.registry
        home = r.home[loc.dev]
        watched = (home >= 0) & (loc.ts > self.last_ts[loc.dev])
        watched[watched] &= r.dementia[home[watched]] & np.isfinite(r.lat[home[watched]])
        if not watched.any():
            return []
        loc = loc.take(np.flatnonzero(watched))
        home = r.home[loc.dev]
        self.last_ts[loc.dev] = loc.ts
        away = distance_m(r.lat[home], r.lon[home], loc.lat, loc.lon)
        # only certain when even the near edge of the accuracy circle is outside
        outside = (away - np.nan_to_num(loc.acc, nan=0.0) > r.radius_m[home]) & self.clock.is_night(
            loc.ts
        )
        fired = self.outside.step(loc.dev, loc.ts, outside)
        return [
            finding(
                device_id=r.device_ids[int(loc.dev[j])],
                rule="geofence_night",
                severity=Severity.P2,
                code="geofence_night",
                values={
                    "distance_m": round(float(away[j])),
                    "at": self.clock.hhmm(float(loc.ts[j])),
                    "radius_m": round(float(r.radius_m[home[j]])),
                },
                ts=float(loc.ts[j]),
                episode=f"{float(self.outside.since[loc.dev[j]]):.0f}",
                data={
                    "lat": float(loc.lat[j]),
                    "lon": float(loc.lon[j]),
                    "distance_m": round(float(away[j])),
                },
            )
            for j in np.flatnonzero(fired)
        ]
