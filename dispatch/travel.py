"""How long it takes to get from a service point to a resident.

The default is great-circle distance times an urban detour factor, divided by a speed per mode of
travel: streets are not straight (1.4 is typical of Chinese city grids), and a
caregiver on an e-bike (电动车) makes about 15 km/h door to door. Where a routing
engine is at hand, its travel-time matrix (point, resident, minutes) replaces the
estimate for the pairs it covers.
"""

import csv
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from kernel.errors import Invalid
from kernel.rows import unreadable

EARTH_RADIUS_KM = 6371.0088

FloatArray = NDArray[np.float64]


class Mode(StrEnum):
    WALK = "walk"
    EBIKE = "ebike"
    CAR = "car"


SPEED_KMH = {Mode.WALK: 4.5, Mode.EBIKE: 15.0, Mode.CAR: 20.0}


def unit_vectors(lat: FloatArray, lon: FloatArray) -> FloatArray:
    """Points on the unit sphere: chord distance between them grows with the great-circle
    distance, so a k-d tree over them finds the nearest on the Earth."""
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)))


def km_for_chord(chord: FloatArray) -> FloatArray:
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2, 0, 1))


@dataclass(frozen=True)
class GreatCircle:
    """Minutes = great-circle km * detour / speed."""

    detour: float = 1.4
    mode: Mode = Mode.EBIKE

    def __post_init__(self) -> None:
        if self.detour < 1:
            msg = "the detour factor is at least 1 (streets are never shorter than a line)"
            raise Invalid(msg)

    def minutes_for_km(self, km: FloatArray) -> FloatArray:
        return km * self.detour / SPEED_KMH[self.mode] * 60


@dataclass
class Matrix:
    """Travel minutes measured by a routing engine, per (point, resident); pairs it does
    not cover fall back to `estimate`."""

    estimate: GreatCircle = field(default_factory=GreatCircle)
    minutes: dict[tuple[str, str], float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, estimate: GreatCircle | None = None) -> "Matrix":
        """A CSV with columns point_id, resident_id, minutes."""
        matrix = cls(estimate or GreatCircle())
        try:
            with path.open(encoding="utf-8-sig", newline="") as f:
                rows = list(csv.DictReader(f))
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"travel matrix: cannot read {str(path)!r}: {unreadable(exc)}"
            raise Invalid(msg) from exc
        for n, row in enumerate(rows, start=2):
            try:
                value = float(row["minutes"])
                key = (row["point_id"], row["resident_id"])
            except (KeyError, TypeError, ValueError) as exc:
                msg = f"{path}:{n}: expected point_id, resident_id, minutes"
                raise Invalid(msg) from exc
            if not value >= 0:
                msg = f"{path}:{n}: minutes must be a number of at least 0"
                raise Invalid(msg)
            matrix.minutes[key] = value
        return matrix

    def override(self, point_ids: list[str], resident_id: str, minutes: FloatArray) -> FloatArray:
        """`minutes` (the estimate for these points) with the measured pairs put in."""
        if not self.minutes:
            return minutes
        out = minutes.copy()
        for k, point in enumerate(point_ids):
            measured = self.minutes.get((point, resident_id))
            if measured is not None:
                out[k] = measured
        return out
