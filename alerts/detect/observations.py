"""A batch of readings as columns: what the engine takes in.

Rows whose device the detector does not know carry index -1 and are skipped. Values a
device did not send are NaN.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from devices.models import EventType

# The vital signs NEWS2 and the baselines read, in column order.
METRICS = ("hr", "spo2", "temp", "sbp", "rr")
HR, SPO2, TEMP, SBP, RR = range(len(METRICS))

EVENT_TYPES: tuple[EventType, ...] = tuple(EventType)
EVENT_CODE = {t: code for code, t in enumerate(EVENT_TYPES)}

F64 = NDArray[np.float64]
F32 = NDArray[np.float32]
I32 = NDArray[np.int32]
I8 = NDArray[np.int8]


def _i32(n: int = 0) -> I32:
    return np.zeros(n, np.int32)


def _f64(n: int = 0) -> F64:
    return np.zeros(n, np.float64)


@dataclass(slots=True)
class Vitals:
    dev: I32 = field(default_factory=_i32)
    ts: F64 = field(default_factory=_f64)
    values: F32 = field(default_factory=lambda: np.zeros((0, len(METRICS)), np.float32))
    battery: F32 = field(default_factory=lambda: np.zeros(0, np.float32))

    def take(self, pos: NDArray[np.intp]) -> "Vitals":
        return Vitals(self.dev[pos], self.ts[pos], self.values[pos], self.battery[pos])


@dataclass(slots=True)
class Events:
    dev: I32 = field(default_factory=_i32)
    ts: F64 = field(default_factory=_f64)
    code: I8 = field(default_factory=lambda: np.zeros(0, np.int8))
    # the device's event id or seq: part of the alert's dedup key, so one press = one alert
    keys: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Locations:
    dev: I32 = field(default_factory=_i32)
    ts: F64 = field(default_factory=_f64)
    lat: F64 = field(default_factory=_f64)
    lon: F64 = field(default_factory=_f64)
    acc: F32 = field(default_factory=lambda: np.zeros(0, np.float32))

    def take(self, pos: NDArray[np.intp]) -> "Locations":
        return Locations(self.dev[pos], self.ts[pos], self.lat[pos], self.lon[pos], self.acc[pos])


@dataclass(slots=True)
class Statuses:
    dev: I32 = field(default_factory=_i32)
    ts: F64 = field(default_factory=_f64)
    online: I8 = field(default_factory=lambda: np.zeros(0, np.int8))  # -1 not said, 0, 1
    battery: F32 = field(default_factory=lambda: np.zeros(0, np.float32))


@dataclass(slots=True)
class Observations:
    vitals: Vitals = field(default_factory=Vitals)
    events: Events = field(default_factory=Events)
    locations: Locations = field(default_factory=Locations)
    statuses: Statuses = field(default_factory=Statuses)

    def __len__(self) -> int:
        return (
            len(self.vitals.dev)
            + len(self.events.dev)
            + len(self.locations.dev)
            + len(self.statuses.dev)
        )


def rounds(dev: I32, ts: F64) -> Iterator[NDArray[np.intp]]:
    """Positions of the rows in time order, split so no device appears twice in a round.

    A live batch holds one reading per device almost always (one round); a backlog
    drained after an outage holds several, and the k-th reading of every device goes
    into round k, so per-device state machines stay simple array updates.
    """
    n = len(dev)
    if n == 0:
        return
    if np.bincount(dev).max() == 1:  # the common case, and no sort needed
        yield np.arange(n)
        return
    order = np.argsort(ts, kind="stable")
    by_dev = order[np.argsort(dev[order], kind="stable")]
    sorted_dev = dev[by_dev]
    starts = np.r_[0, np.flatnonzero(sorted_dev[1:] != sorted_dev[:-1]) + 1]
    lengths = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, lengths)
    for k in range(int(rank.max()) + 1):
        yield by_dev[rank == k]
