"""One resident's ordinary days, as the devices in their home would report them.

A watch measures vitals every minute (personal baselines, a day/night rhythm, noise)
and reports where it is every ten minutes; motion, door and bed sensors report what
happens at home (getting up, going to bed, trips to the bathroom at night, outings);
every sensor sends an hourly heartbeat. Incidents and noise are applied afterwards.
"""

import math
from dataclasses import dataclass, field

import numpy as np

SENSORS = ("motion", "door", "bed", "sos_button", "smoke", "gas", "water")
DEVICE_KINDS = {"watch": "watch", **{s: s for s in SENSORS}}
INTERVAL_S = {"watch": 60.0, **{s: 3600.0 for s in SENSORS}}
VITALS = ("hr", "spo2", "temp", "sbp", "dbp", "rr", "battery")
HR, SPO2, TEMP, SBP, DBP, RR, BATTERY = range(len(VITALS))
METRES_PER_DEG_LAT = 111_320.0


@dataclass
class Person:
    resident_id: str
    lat: float
    lon: float
    flags: set[str]
    baseline: np.ndarray  # hr, spo2, temp, sbp, dbp, rr
    wake_h: float
    sleep_h: float
    motion_per_h: float
    night_trips: float
    outings_per_day: float


@dataclass
class Home:
    """Everything one home's devices send, before incidents and noise."""

    person: Person
    vitals_ts: np.ndarray
    vitals: np.ndarray  # (n, len(VITALS)), NaN = not measured
    events: list[tuple[float, str, str, str]] = field(default_factory=list)  # ts, device, type, key
    statuses: list[tuple[float, str, int, float]] = field(
        default_factory=list
    )  # ts, dev, online, batt
    locations: list[tuple[float, float, float, float]] = field(
        default_factory=list
    )  # ts, lat, lon, acc
    silenced: dict[str, float] = field(default_factory=dict)  # device -> sends nothing after
    arrival: np.ndarray | None = None  # when each vitals row reaches the broker

    def event(self, ts: float, device: str, kind: str) -> None:
        self.events.append((ts, device, kind, f"{device}-{len(self.events)}"))

    def drop_activity(
        self,
        start: float,
        end: float,
        kinds: frozenset[str] = frozenset(
            {"motion", "door_open", "door_close", "bed_exit", "bed_enter"}
        ),
    ) -> None:
        """Nobody moves between `start` and `end`: the sensors see nothing."""
        self.events = [e for e in self.events if not (start <= e[0] < end and e[2] in kinds)]


def make_person(rng: np.random.Generator, resident_id: str, flags: set[str]) -> Person:
    hypercapnic = "hypercapnic" in flags
    baseline = np.array(
        [
            rng.normal(72, 8),
            rng.normal(90.5, 1.0) if hypercapnic else rng.normal(96.8, 0.8),
            rng.normal(36.6, 0.2),
            rng.normal(132, 12),
            rng.normal(78, 7),
            rng.normal(16, 1.5),
        ]
    )
    lows: tuple[float, ...]
    highs: tuple[float, ...]
    lows, highs = (56, 88, 36.2, 115, 60, 13), (92, 99.5, 37.2, 165, 95, 19)
    if not hypercapnic:
        lows = (56, 95.0, 36.2, 115, 60, 13)
    return Person(
        resident_id=resident_id,
        lat=30.59 + rng.normal(0, 0.05),
        lon=114.30 + rng.normal(0, 0.05),
        flags=flags,
        baseline=np.clip(baseline, lows, highs),
        wake_h=rng.normal(6.8, 0.4),
        sleep_h=rng.normal(22.0, 0.4),
        motion_per_h=rng.uniform(8, 20),  # a PIR sensor re-arms every minute or two
        night_trips=rng.uniform(0.3, 1.5),
        outings_per_day=rng.uniform(0.3, 1.5),
    )


def ordinary_days(
    rng: np.random.Generator, person: Person, start: float, days: float, utc_offset_s: int
) -> Home:
    """`days` of ordinary life from local midnight `start` (epoch seconds)."""
    end = start + days * 86400
    ts = np.arange(start, end, 60.0) + rng.uniform(0, 59)
    ts += rng.normal(0, 1.5, len(ts))  # device clocks and network jitter
    home = Home(person, ts, _vitals(rng, person, ts, utc_offset_s))
    for day in range(math.ceil(days)):
        _one_day(rng, home, start + day * 86400, end)
    for device in INTERVAL_S:
        if device == "watch":
            beats = np.arange(start + rng.uniform(0, 600), end, 600.0)
            batt = np.interp(beats, ts, home.vitals[:, BATTERY])
        else:
            beats = np.arange(start + rng.uniform(0, 3600), end, 3600.0)
            batt = np.full(len(beats), round(rng.uniform(40, 100)), float)
        home.statuses += [(float(t), device, 1, float(b)) for t, b in zip(beats, batt, strict=True)]
    if "dementia" in person.flags:
        fixes = np.arange(start + rng.uniform(0, 600), end, 600.0)
        home.locations += [(float(t), *_near(rng, person, 15.0), 20.0) for t in fixes]
    return home


def _near(rng: np.random.Generator, person: Person, metres: float) -> tuple[float, float]:
    north, east = rng.normal(0, metres, 2)
    return (
        person.lat + north / METRES_PER_DEG_LAT,
        person.lon + east / (METRES_PER_DEG_LAT * math.cos(math.radians(person.lat))),
    )


def _vitals(rng: np.random.Generator, p: Person, ts: np.ndarray, utc_offset_s: int) -> np.ndarray:
    n = len(ts)
    hour = ((ts + utc_offset_s) % 86400) / 3600
    night = np.cos(2 * np.pi * (hour - 3) / 24)  # 1 in the small hours
    b = p.baseline
    out = np.empty((n, len(VITALS)))
    # slow drifts (a few minutes' correlation) plus measurement noise
    drift = _smooth(rng.normal(0, 1, (n, 6)), 10)
    out[:, HR] = b[0] - 6 * night + 3 * drift[:, 0] + rng.normal(0, 2, n)
    out[:, SPO2] = np.minimum(b[1] + 0.4 * drift[:, 1] + rng.normal(0, 0.6, n), 100)
    out[:, TEMP] = b[2] - 0.2 * night + 0.05 * drift[:, 2] + rng.normal(0, 0.06, n)
    out[:, SBP] = b[3] - 8 * night + 3 * drift[:, 3] + rng.normal(0, 4, n)
    out[:, DBP] = b[4] - 5 * night + 2 * drift[:, 4] + rng.normal(0, 3, n)
    out[:, RR] = b[5] - night + 0.7 * drift[:, 5] + rng.normal(0, 0.8, n)
    # the watch drains about 1% an hour and is charged (on the wrist) every evening
    charging = (hour >= 19.5) & (hour < 20.5)
    level = np.empty(n)
    batt = rng.uniform(50, 90)
    for i in range(n):  # a running state, cheap at one person's scale
        batt = min(100.0, batt + 1.2) if charging[i] else max(0.0, batt - 1 / 60)
        level[i] = batt
    out[:, BATTERY] = level
    for col in (HR, SPO2, SBP, DBP, RR):
        out[:, col] = np.round(out[:, col])
    out[:, TEMP] = np.round(out[:, TEMP], 1)
    return out


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    kernel = np.ones(width) / math.sqrt(width)
    return np.stack([np.convolve(x[:, j], kernel, mode="same") for j in range(x.shape[1])], 1)


def _one_day(rng: np.random.Generator, home: Home, midnight: float, end: float) -> None:
    p = home.person
    wake = midnight + (p.wake_h + rng.normal(0, 0.3)) * 3600
    sleep = midnight + (p.sleep_h + rng.normal(0, 0.3)) * 3600
    if midnight > home.vitals_ts[0]:  # got up this morning (the first day starts awake)
        home.event(wake, "bed", "bed_exit")
    # outings: front door, nobody home, front door, movement again
    away: list[tuple[float, float]] = []
    for _ in range(rng.poisson(p.outings_per_day)):
        leave = wake + rng.uniform(2, max(2.5, (sleep - wake) / 3600 - 3)) * 3600
        back = leave + rng.uniform(0.5, 3) * 3600
        if any(a <= back and leave <= b for a, b in away) or back > sleep - 1800:
            continue
        away.append((leave, back))
        home.event(leave, "door", "door_open")
        home.event(leave + rng.uniform(5, 30), "door", "door_close")
        home.event(back, "door", "door_open")
        home.event(back + rng.uniform(5, 30), "door", "door_close")
    # moving about the home while awake: a Poisson process, thinned when away
    n = rng.poisson(p.motion_per_h * (sleep - wake) / 3600)
    for t in np.sort(rng.uniform(wake, sleep, n)):
        if not any(a - 60 <= t <= b + 60 for a, b in away):
            home.event(float(t), "motion", "motion")
    for _, back in away:
        home.event(back + rng.uniform(30, 90), "motion", "motion")
    home.event(sleep, "bed", "bed_enter")
    # the night: a trip or two to the bathroom
    next_wake = midnight + 86400 + p.wake_h * 3600
    for t in np.sort(rng.uniform(sleep + 1800, next_wake - 1800, rng.poisson(p.night_trips))):
        home.event(float(t), "bed", "bed_exit")
        for dt in np.sort(rng.uniform(30, 420, rng.integers(2, 5))):
            home.event(float(t + dt), "motion", "motion")
        home.event(float(t + rng.uniform(450, 720)), "bed", "bed_enter")
    home.events = [e for e in home.events if e[0] < end]
