"""Local time of day, vectorised: the city's clock decides what "night" means."""

import numpy as np
from numpy.typing import NDArray

from alerts.detect.config import DetectorConfig

F64 = NDArray[np.float64]


class LocalClock:
    def __init__(self, config: DetectorConfig) -> None:
        self.offset = float(config.utc_offset_s)
        self.night_start = config.night_start_h
        self.night_end = config.night_end_h

    def hour(self, ts: F64 | float) -> F64:
        """Hour of the local day, 0 <= h < 24, with fractions."""
        return np.asarray(((np.asarray(ts) + self.offset) % 86400.0) / 3600.0)

    def day(self, ts: F64 | float) -> NDArray[np.int64]:
        return np.asarray(np.floor((np.asarray(ts) + self.offset) / 86400.0)).astype(np.int64)

    def is_night(self, ts: F64 | float) -> NDArray[np.bool_]:
        h = self.hour(ts)
        if self.night_start > self.night_end:  # the night spans midnight
            return np.asarray((h >= self.night_start) | (h < self.night_end))
        return np.asarray((h >= self.night_start) & (h < self.night_end))

    def hhmm(self, ts: float) -> str:
        minutes = int((ts + self.offset) % 86400 // 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
