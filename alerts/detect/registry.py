"""Dense indexes: every device and every home gets a row in the detector's arrays."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np
from numpy.typing import NDArray

from alerts.detect.arrays import capacity_for, grown
from alerts.detect.config import Overrides
from devices.models import DeviceKind

KINDS: tuple[DeviceKind, ...] = tuple(DeviceKind)
KIND_CODE = {kind: code for code, kind in enumerate(KINDS)}


@dataclass(frozen=True, slots=True)
class HomeInfo:
    """A resident as the detector sees them: flags, home position, overrides."""

    resident_id: str
    flags: frozenset[str] = frozenset()
    home_lat: float | None = None
    home_lon: float | None = None
    overrides: Overrides = field(default_factory=Overrides)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    device_id: str
    kind: DeviceKind
    resident_id: str | None
    expected_interval_s: float


class Registry:
    """Maps ids to dense indexes and holds what the rules need to know about each."""

    def __init__(self) -> None:
        self.device_ids: list[str] = []
        self.resident_ids: list[str] = []
        self._device_index: dict[str, int] = {}
        self._home_index: dict[str, int] = {}
        self.device_capacity = 0
        self.home_capacity = 0
        # per device
        self.kind = np.zeros(0, np.int8)
        self.home = np.zeros(0, np.int32)  # -1: no resident
        self.interval = np.zeros(0, np.float32)
        # per home
        self.spo2_scale2 = np.zeros(0, bool)
        self.dementia = np.zeros(0, bool)
        self.lat = np.zeros(0, np.float64)
        self.lon = np.zeros(0, np.float64)
        self.baseline_z = np.zeros(0, np.float32)
        self.inactivity_floor_s = np.zeros(0, np.float32)
        self.bed_exit_s = np.zeros(0, np.float32)
        self.door_open_s = np.zeros(0, np.float32)
        self.radius_m = np.zeros(0, np.float32)
        self.low_battery = np.zeros(0, np.float32)
        self.has_motion = np.zeros(0, bool)
        self.home_device = np.zeros(0, np.int32)  # the sensor home-level alerts cite

    @property
    def n_devices(self) -> int:
        return len(self.device_ids)

    @property
    def n_homes(self) -> int:
        return len(self.resident_ids)

    def add(self, *, homes: Iterable[HomeInfo], devices: Iterable[DeviceInfo]) -> bool:
        """Add or update homes and devices. True when the arrays had to grow."""
        homes, devices = list(homes), list(devices)
        for h in homes:
            self._home_index.setdefault(h.resident_id, len(self.resident_ids))
            if self._home_index[h.resident_id] == len(self.resident_ids):
                self.resident_ids.append(h.resident_id)
        for d in devices:
            if d.resident_id is not None and d.resident_id not in self._home_index:
                self._home_index[d.resident_id] = len(self.resident_ids)
                self.resident_ids.append(d.resident_id)
            self._device_index.setdefault(d.device_id, len(self.device_ids))
            if self._device_index[d.device_id] == len(self.device_ids):
                self.device_ids.append(d.device_id)
        grew = self._ensure_capacity()
        for h in homes:
            self._set_home(self._home_index[h.resident_id], h)
        for d in devices:
            self._set_device(self._device_index[d.device_id], d)
        return grew

    def device_index(self, ids: Sequence[str]) -> NDArray[np.int32]:
        """Dense index per id; -1 for ids the detector has not been told about."""
        return np.fromiter(map(self._device_index.get, ids, repeat(-1)), np.int32, len(ids))

    def unknown(self, device_ids: Iterable[str]) -> set[str]:
        """The ids among `device_ids` the detector has not been told about."""
        # set.difference looks each id up in the dict; it never walks the registry
        return set(device_ids).difference(self._device_index)

    def _ensure_capacity(self) -> bool:
        devices, homes = capacity_for(self.n_devices), capacity_for(self.n_homes)
        if devices <= self.device_capacity and homes <= self.home_capacity:
            return False
        self.device_capacity = max(devices, self.device_capacity)
        self.home_capacity = max(homes, self.home_capacity)
        d, h = self.device_capacity, self.home_capacity
        self.kind = grown(self.kind, d, 0)
        self.home = grown(self.home, d, -1)
        self.interval = grown(self.interval, d, np.inf)
        for name, fill in (
            ("spo2_scale2", False),
            ("dementia", False),
            ("lat", np.nan),
            ("lon", np.nan),
            ("baseline_z", 4.0),
            ("inactivity_floor_s", 4 * 3600.0),
            ("bed_exit_s", 1800.0),
            ("door_open_s", 600.0),
            ("radius_m", 200.0),
            ("low_battery", 15.0),
            ("has_motion", False),
            ("home_device", -1),
        ):
            setattr(self, name, grown(getattr(self, name), h, fill))
        return True

    def _set_home(self, i: int, h: HomeInfo) -> None:
        o = h.overrides
        scale = o.spo2_scale or (2 if "hypercapnic" in h.flags else 1)
        self.spo2_scale2[i] = scale == 2
        self.dementia[i] = "dementia" in h.flags
        self.lat[i] = np.nan if h.home_lat is None else h.home_lat
        self.lon[i] = np.nan if h.home_lon is None else h.home_lon
        self.baseline_z[i] = o.baseline_z
        self.inactivity_floor_s[i] = o.inactivity_floor_h * 3600
        self.bed_exit_s[i] = o.bed_exit_min * 60
        self.door_open_s[i] = o.door_open_min * 60
        self.radius_m[i] = o.home_radius_m
        self.low_battery[i] = o.low_battery_pct

    def _set_device(self, i: int, d: DeviceInfo) -> None:
        self.kind[i] = KIND_CODE[d.kind]
        self.interval[i] = d.expected_interval_s
        home = -1 if d.resident_id is None else self._home_index[d.resident_id]
        self.home[i] = home
        if home >= 0 and d.kind is DeviceKind.MOTION:
            self.has_motion[home] = True
            self.home_device[home] = i
        elif home >= 0 and self.home_device[home] < 0:
            self.home_device[home] = i


def per_home(values: NDArray[Any], home: NDArray[np.int32], default: float) -> NDArray[Any]:
    """`values[home]`, with `default` where a device belongs to no home (-1)."""
    return np.asarray(np.where(home >= 0, values[np.maximum(home, 0)], default), values.dtype)
