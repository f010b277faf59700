"""Building engines and batches for detector tests."""

import numpy as np

from alerts.detect import Engine, Observations
from alerts.detect.config import DetectorConfig, Overrides
from alerts.detect.observations import EVENT_CODE, Events, Locations, Statuses, Vitals
from alerts.detect.registry import DeviceInfo, HomeInfo
from alerts.models import Finding, Outcome
from devices.models import DeviceKind, EventType

T0 = 1_772_380_800.0  # 2026-03-02 00:00 Beijing time (UTC+8)
NORMAL = {"hr": 72.0, "spo2": 97.0, "temp": 36.6, "sbp": 128.0, "rr": 16.0}


def local(hours: float, day: int = 0) -> float:
    """Epoch seconds at a local (UTC+8) clock time on day `day` of the test."""
    return T0 + day * 86400 + hours * 3600


def engine(
    *,
    flags: frozenset[str] = frozenset(),
    overrides: Overrides | None = None,
    kinds: tuple[DeviceKind, ...] = (DeviceKind.WATCH,),
    home: tuple[float, float] | None = None,
) -> Engine:
    e = Engine(DetectorConfig())
    lat, lon = home or (None, None)
    e.register(
        homes=[HomeInfo("r1", flags, lat, lon, overrides or Overrides())],
        devices=[
            DeviceInfo(f"r1-{k}", k, "r1", 60.0 if k is DeviceKind.WATCH else 3600.0) for k in kinds
        ],
    )
    return e


def dev(e: Engine, kind: DeviceKind) -> int:
    return int(e.registry.device_index([f"r1-{kind}"])[0])


def vitals(e: Engine, ts: float, battery: float = 80.0, **values: float) -> Observations:
    row = {**NORMAL, **values}
    return Observations(
        vitals=Vitals(
            np.array([dev(e, DeviceKind.WATCH)], np.int32),
            np.array([ts]),
            np.array([[row["hr"], row["spo2"], row["temp"], row["sbp"], row["rr"]]], np.float32),
            np.array([battery], np.float32),
        )
    )


def event(e: Engine, kind: DeviceKind, ts: float, what: EventType, key: str = "k1") -> Observations:
    return Observations(
        events=Events(
            np.array([dev(e, kind)], np.int32),
            np.array([ts]),
            np.array([EVENT_CODE[what]], np.int8),
            [key],
        )
    )


def location(e: Engine, ts: float, lat: float, lon: float, acc: float = 10.0) -> Observations:
    return Observations(
        locations=Locations(
            np.array([dev(e, DeviceKind.WATCH)], np.int32),
            np.array([ts]),
            np.array([lat]),
            np.array([lon]),
            np.array([acc], np.float32),
        )
    )


def status(
    e: Engine, kind: DeviceKind, ts: float, *, online: int = 1, battery: float = np.nan
) -> Observations:
    return Observations(
        statuses=Statuses(
            np.array([dev(e, kind)], np.int32),
            np.array([ts]),
            np.array([online], np.int8),
            np.array([battery], np.float32),
        )
    )


def warm_up(e: Engine, start: float, minutes: int, **values: float) -> float:
    """Feed `minutes` of steady vitals; returns the time of the next reading."""
    ts = start
    for _ in range(minutes):
        assert not e.observe(vitals(e, ts, **values))
        ts += 60
    return ts


def findings(outcomes: list[Outcome], rule: str | None = None) -> list[Finding]:
    return [o for o in outcomes if isinstance(o, Finding) and (rule is None or o.rule == rule)]
