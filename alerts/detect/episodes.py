"""Persistence and hysteresis for one condition over all devices.

A condition fires once it has held for `k` readings in a row and, with `min_s`, for
that many seconds since its first abnormal reading (two readings 6 s apart are not
two readings a minute apart); it cannot fire again
until it has been clearly normal for `clear_s` seconds. "Clearly normal" can be a
stricter test than "not abnormal" (hysteresis), so a value hovering at a threshold
stays one episode. So one noisy reading never pages
anyone, and a condition that flickers around a threshold pages once, not every minute.
"""

from typing import Any

import numpy as np
from numpy.typing import NDArray

from alerts.detect.arrays import grown

BoolArray = NDArray[np.bool_]


class Episodes:
    def __init__(self, *, k: int, clear_s: float, min_s: float = 0.0) -> None:
        if k < 1:
            msg = "k must be at least 1"
            raise ValueError(msg)
        self.k = k
        self.min_s = min_s
        self.clear_s = clear_s
        self.run = np.zeros(0, np.uint8)  # abnormal readings in a row
        self.since = np.zeros(0, np.float64)  # when the current abnormal run began
        self.active = np.zeros(0, bool)  # fired, not yet cleared
        self.normal_since = np.zeros(0, np.float64)  # NaN while abnormal

    def resize(self, n: int) -> None:
        self.run = grown(self.run, n, 0)
        self.since = grown(self.since, n, np.nan)
        self.active = grown(self.active, n, False)
        self.normal_since = grown(self.normal_since, n, np.nan)

    def step(
        self,
        idx: NDArray[np.integer[Any]],
        ts: NDArray[np.float64],
        abnormal: BoolArray,
        normal: BoolArray | None = None,
    ) -> BoolArray:
        """Advance rows `idx` (unique) by one reading each. Returns which fired now."""
        if normal is None:
            normal = ~abnormal
        run = np.where(abnormal, np.minimum(self.run[idx].astype(np.int32) + 1, 255), 0)
        self.run[idx] = run
        self.since[idx] = np.where(abnormal & (run == 1), ts, self.since[idx])
        normal_since = np.where(
            normal,
            np.fmin(self.normal_since[idx], ts),
            np.nan,  # fmin ignores NaN
        )
        self.normal_since[idx] = normal_since
        active = self.active[idx]
        cleared = active & normal & (ts - normal_since >= self.clear_s)
        lasted = ts - self.since[idx] >= self.min_s
        fired = abnormal & (run >= self.k) & lasted & ~active
        self.active[idx] = (active & ~cleared) | fired
        return np.asarray(fired, bool)

    def state_bytes(self) -> int:
        return self.run.nbytes + self.since.nbytes + self.active.nbytes + self.normal_since.nbytes
