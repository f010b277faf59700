"""A committed batch as the detector's columns (see alerts.detect.observations)."""

from collections.abc import Callable, Sequence
from operator import itemgetter

import numpy as np
from numpy.typing import NDArray

from alerts.intake import columns
from devices.models import EventType
from ingest.records import COLUMNS, Reading
from ingest.topics import Channel

DeviceIndex = Callable[[Sequence[str]], NDArray[np.int32]]

# Columns are picked with itemgetter and map, not comprehensions: this runs for
# every message on the ingest thread. The detector's metrics and the battery level:
_VITALS = itemgetter(*(COLUMNS[Channel.VITALS].index(c) for c in columns.METRICS))
_BATTERY = itemgetter(COLUMNS[Channel.VITALS].index("battery"))
_TS, _DEVICE = itemgetter(0), itemgetter(1)
_ONLINE = {None: -1, True: 1, False: 0}


def to_observations(readings: Sequence[Reading], index: DeviceIndex) -> columns.Observations:
    by_channel: dict[Channel, list[tuple[object, ...]]] = {c: [] for c in Channel}
    for r in readings:
        by_channel[r.channel].append(r.row)
    return columns.Observations(
        _vitals(by_channel[Channel.VITALS], index),
        _events(by_channel[Channel.EVENT], index),
        _locations(by_channel[Channel.LOCATION], index),
        _statuses(by_channel[Channel.STATUS], index),
    )


def _head(
    rows: list[tuple[object, ...]], index: DeviceIndex
) -> tuple[NDArray[np.int32], NDArray[np.float64]]:
    dev = index(list(map(_DEVICE, rows)))
    ts = np.fromiter(map(_TS, rows), np.float64, len(rows))
    return dev, ts


def _vitals(rows: list[tuple[object, ...]], index: DeviceIndex) -> columns.Vitals:
    if not rows:
        return columns.Vitals()
    dev, ts = _head(rows, index)
    # dtype float turns a value the device did not send (None) into NaN
    values = np.array(list(map(_VITALS, rows)), dtype=np.float32)
    battery = np.array(list(map(_BATTERY, rows)), dtype=np.float32)
    return columns.Vitals(dev, ts, values, battery)


def _events(rows: list[tuple[object, ...]], index: DeviceIndex) -> columns.Events:
    if not rows:
        return columns.Events()
    dev, ts = _head(rows, index)
    code = np.fromiter((columns.EVENT_CODE[EventType(str(r[2]))] for r in rows), np.int8, len(rows))
    return columns.Events(dev, ts, code, [str(r[3]) for r in rows])


def _locations(rows: list[tuple[object, ...]], index: DeviceIndex) -> columns.Locations:
    if not rows:
        return columns.Locations()
    dev, ts = _head(rows, index)
    lat = np.array([r[3] for r in rows], dtype=np.float64)
    lon = np.array([r[4] for r in rows], dtype=np.float64)
    acc = np.array([r[5] for r in rows], dtype=np.float32)
    return columns.Locations(dev, ts, lat, lon, acc)


def _statuses(rows: list[tuple[object, ...]], index: DeviceIndex) -> columns.Statuses:
    if not rows:
        return columns.Statuses()
    dev, ts = _head(rows, index)
    online = np.array([_ONLINE[r[2]] for r in rows], dtype=np.int8)  # type: ignore[index]
    battery = np.array([r[3] for r in rows], dtype=np.float32)
    return columns.Statuses(dev, ts, online, battery)
