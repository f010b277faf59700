"""A fleet of simulated wearables with personal baselines, noise and a day/night rhythm.

State is NumPy arrays over the fleet, and each tick draws all its readings at once.
"""

import math
import uuid
from dataclasses import dataclass

import numpy as np

CHINA_UTC_OFFSET_H = 8


@dataclass(frozen=True)
class SimDevice:
    id: str
    kind: str
    resident_id: str


class WearableFleet:
    def __init__(self, n: int, *, prefix: str = "sim", seed: int = 7) -> None:
        if n < 1:
            msg = "a fleet needs at least one device"
            raise ValueError(msg)
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.n = n
        self.devices = [
            SimDevice(f"{prefix}-w{i:05d}", "watch", f"{prefix}-r{i:05d}") for i in range(n)
        ]
        # Resting values differ from person to person: that is why baselines matter.
        # Ranges of older adults living at home who are well: a resting pulse of 56 to
        # 95, SpO2 of 94.5 % and up on air, 12 to 20 breaths a minute, a systolic
        # pressure of 110 to 165. (Wider spreads put the demo's healthy fleet into
        # NEWS2's alarm bands at night.)
        self.hr = rng.normal(72, 8, n).clip(56, 95)
        self.spo2 = rng.normal(96.5, 0.8, n).clip(94.5, 99.0)
        self.temp = rng.normal(36.5, 0.2, n).clip(35.8, 37.2)
        self.sbp = rng.normal(130, 14, n).clip(110, 165)
        self.dbp = rng.normal(78, 8, n).clip(55, 100)
        self.rr = rng.normal(16, 1.5, n).clip(12, 20)
        self.battery = rng.uniform(30, 100, n)
        self.steps = np.zeros(n, dtype=np.int64)
        self.seq = np.zeros(n, dtype=np.int64)

    def vitals(self, idx: np.ndarray, now: float) -> list[dict[str, float | int]]:
        """One vitals payload for each device in `idx`, taken at `now`."""
        k = len(idx)
        hour = (now / 3600 + CHINA_UTC_OFFSET_H) % 24
        # 1 in the small hours, -1 mid-afternoon: pulse and pressure dip at night.
        night = math.cos(2 * math.pi * (hour - 3) / 24)
        r = self.rng
        hr = self.hr[idx] - 6 * night + r.normal(0, 3, k)
        spo2 = np.minimum(self.spo2[idx] + r.normal(0, 0.7, k), 100)
        temp = self.temp[idx] - 0.2 * night + r.normal(0, 0.08, k)
        sbp = self.sbp[idx] - 8 * night + r.normal(0, 5, k)
        dbp = self.dbp[idx] - 5 * night + r.normal(0, 3, k)
        rr = self.rr[idx] - night + r.normal(0, 1, k)
        awake = night < 0.5
        self.steps[idx] += np.where(awake, r.poisson(40, k), 0)
        self.battery[idx] = np.maximum(self.battery[idx] - 0.01, 0)
        self.seq[idx] += 1
        seq, steps, batt = self.seq[idx], self.steps[idx], self.battery[idx]
        return [
            {
                "ts": round(now, 3),
                "seq": int(seq[j]),
                "hr": round(float(hr[j])),
                "spo2": round(float(spo2[j])),
                "temp": round(float(temp[j]), 1),
                "sbp": round(float(sbp[j])),
                "dbp": round(float(dbp[j])),
                "rr": round(float(rr[j])),
                "steps": int(steps[j]),
                "battery": round(float(batt[j]), 1),
            }
            for j in range(k)
        ]

    def sos(self, now: float) -> tuple[str, dict[str, object]]:
        i = int(self.rng.integers(self.n))
        return self.devices[i].id, {"ts": round(now, 3), "type": "sos", "id": uuid.uuid4().hex}

    def status(self, i: int, now: float) -> dict[str, object]:
        return {
            "ts": round(now, 3),
            "online": True,
            "battery": round(float(self.battery[i]), 1),
            "fw": "sim-1.0",
        }
