"""Device health: offline (silence or the MQTT last will) and low battery.

The offline rule is a sweep over every device at once: the service runs it every
second, so an offline device is reported within a second of three missed intervals.
"""

import numpy as np
from numpy.typing import NDArray

from alerts.detect.arrays import grown
from alerts.detect.config import DetectorConfig
from alerts.detect.findings import finding
from alerts.detect.registry import Registry, per_home
from alerts.models import Finding, Severity


class HealthRule:
    def __init__(self, registry: Registry, config: DetectorConfig) -> None:
        self.registry = registry
        self.config = config
        self.last_seen = np.zeros(0, np.float64)
        self.offline_at = np.zeros(0, np.float64)  # NaN while online
        self.battery_low = np.zeros(0, bool)
        # Before this time nobody was listening (service down, database away): a device
        # silent then is not known to be silent, so silence counts from here at most.
        self.watching_since = -np.inf

    def resize(self, n: int) -> None:
        self.last_seen = grown(self.last_seen, n, np.nan)
        self.offline_at = grown(self.offline_at, n, np.nan)
        self.battery_low = grown(self.battery_low, n, False)

    def state_bytes(self) -> int:
        return self.last_seen.nbytes + self.offline_at.nbytes + self.battery_low.nbytes

    def seen(self, dev: NDArray[np.int32], ts: NDArray[np.float64]) -> None:
        """Any message but a last will: the device is alive at `ts`."""
        np.fmax.at(self.last_seen, dev, ts)
        back = self.last_seen[dev] > self.offline_at[dev]
        self.offline_at[dev[back]] = np.nan

    def last_will(self, dev: NDArray[np.int32], ts: NDArray[np.float64]) -> list[Finding]:
        """`{"online": false}`: the broker published the device's will, or it said so."""
        fresh = np.isnan(self.offline_at[dev]) & ~(self.last_seen[dev] > ts)
        out = []
        for j in np.flatnonzero(fresh):
            d = int(dev[j])
            self.offline_at[d] = ts[j]
            out.append(
                finding(
                    device_id=self.registry.device_ids[d],
                    rule="offline",
                    severity=Severity.P3,
                    code="offline_last_will",
                    values={},
                    ts=float(ts[j]),
                    episode=f"{float(ts[j]):.0f}",
                )
            )
        return out

    def battery(
        self, dev: NDArray[np.int32], ts: NDArray[np.float64], level: NDArray[np.float32]
    ) -> list[Finding]:
        """One round of battery readings (NaN: none in this message)."""
        given = (level >= 0) & (level <= 100)  # False for NaN
        dev, ts, level = dev[given], ts[given], level[given]
        limit = per_home(self.registry.low_battery, self.registry.home[dev], 15.0)
        was_low = self.battery_low[dev]
        low = level <= limit
        fired = low & ~was_low
        self.battery_low[dev] = np.where(
            level >= limit + self.config.battery_clear_margin, False, was_low | low
        )
        return [
            finding(
                device_id=self.registry.device_ids[int(dev[j])],
                rule="low_battery",
                severity=Severity.P3,
                code="low_battery",
                values={"battery": round(float(level[j]))},
                ts=float(ts[j]),
                episode=f"{float(ts[j]):.0f}",
            )
            for j in np.flatnonzero(fired)
        ]

    def sweep(self, now: float) -> list[Finding]:
        n = self.registry.n_devices
        seen = self.last_seen[:n]
        silent_from = np.maximum(seen, self.watching_since)  # never seen (NaN) stays NaN
        limit = self.config.offline_intervals * self.registry.interval[:n]
        with np.errstate(invalid="ignore"):
            due = np.flatnonzero((now - silent_from > limit) & np.isnan(self.offline_at[:n]))
        out = []
        for d in due:
            last = float(seen[d])
            self.offline_at[d] = last
            out.append(
                finding(
                    device_id=self.registry.device_ids[d],
                    rule="offline",
                    severity=Severity.P3,
                    code="offline_silent",
                    values={
                        "silent_s": round(now - last),
                        "interval_s": round(float(self.registry.interval[d])),
                    },
                    ts=now,
                    episode=f"{last:.0f}",
                )
            )
        return out
