"""Build a labelled scenario: residents, their devices, every message, and the labels.

Messages come out as columns (NumPy arrays) in arrival order, with the measurement
time beside the arrival time so a late or replayed reading stays late.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

from simulators.household import (
    DEVICE_KINDS,
    HR,
    INTERVAL_S,
    SPO2,
    TEMP,
    VITALS,
    Home,
    make_person,
    ordinary_days,
)
from simulators.incidents import STAGES, Label
from simulators.scenario_spec import Noise, ScenarioSpec

UTC_OFFSET_S = 8 * 3600  # the scenarios are set in Wuhan


@dataclass(frozen=True)
class SimResident:
    id: str
    lat: float
    lon: float
    flags: frozenset[str]


@dataclass(frozen=True)
class SimDevice:
    id: str
    kind: str
    resident_id: str
    expected_interval_s: float


@dataclass
class Channel:
    """One channel's messages as columns, sorted by arrival."""

    device: np.ndarray  # index into Scenario.devices
    arrival: np.ndarray
    ts: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Scenario:
    spec: ScenarioSpec
    start: float  # epoch seconds: the first warm-up midnight
    scored_from: float
    end: float
    residents: list[SimResident]
    devices: list[SimDevice]
    vitals: Channel
    events: Channel  # columns: type (str), key (str)
    locations: Channel
    statuses: Channel
    labels: list[Label]

    @property
    def messages(self) -> int:
        return sum(len(c.ts) for c in (self.vitals, self.events, self.locations, self.statuses))


def build(spec: ScenarioSpec) -> Scenario:
    rng = np.random.default_rng(spec.seed)
    tz = timezone(timedelta(seconds=UTC_OFFSET_S))
    start = datetime.fromisoformat(spec.start).replace(tzinfo=tz).timestamp()
    days = spec.warmup_days + spec.days
    scored_from = start + spec.warmup_days * 86400
    end = start + days * 86400
    homes = []
    for i in range(spec.residents):
        flags = set()
        if rng.random() < spec.dementia_share:
            flags.add("dementia")
        if rng.random() < spec.hypercapnic_share:
            flags.add("hypercapnic")
        person = make_person(rng, f"{spec.name}-r{i:04d}", flags)
        homes.append(ordinary_days(rng, person, start, days, UTC_OFFSET_S))
    labels = _stage_incidents(rng, spec, homes, scored_from)
    return _assemble(rng, spec, homes, labels, start, scored_from, end)


def _stage_incidents(
    rng: np.random.Generator, spec: ScenarioSpec, homes: list[Home], scored_from: float
) -> list[Label]:
    """Spread the incidents over residents (one each while there are enough) and days."""
    free = list(rng.permutation(len(homes)))
    labels = []
    for kind, count in sorted(spec.incidents.items()):
        stage, h0, h1 = STAGES[kind]
        for _ in range(count):
            candidates = free or list(range(len(homes)))
            if kind == "wandering_night":
                demented = [i for i in candidates if "dementia" in homes[i].person.flags]
                if not demented:
                    demented = [int(candidates[0])]
                    homes[demented[0]].person.flags.add("dementia")
                candidates = demented
            i = int(candidates[rng.integers(len(candidates))])
            if i in free:
                free.remove(i)
            labels.append(stage(rng, homes[i], _when(rng, spec, scored_from, h0, h1)))
    return labels


def _when(
    rng: np.random.Generator, spec: ScenarioSpec, scored_from: float, h0: float, h1: float
) -> float:
    """A start time in the local-hour window [h0, h1) of some scored day, leaving six
    hours before the end for the incident to unfold and be caught."""
    latest = scored_from + spec.days * 86400 - 6 * 3600
    for _ in range(1000):
        day = int(rng.integers(-1, math.ceil(spec.days)))
        t = scored_from + day * 86400 + rng.uniform(h0, h1) * 3600
        if scored_from <= t <= latest:
            return float(t)
    msg = f"scenario {spec.name!r} is too short for incidents between {h0}h and {h1}h"
    raise ValueError(msg)


def _assemble(
    rng: np.random.Generator,
    spec: ScenarioSpec,
    homes: list[Home],
    labels: list[Label],
    start: float,
    scored_from: float,
    end: float,
) -> Scenario:
    residents: list[SimResident] = []
    devices: list[SimDevice] = []
    vit, ev, loc, st = _Cols(), _Cols(), _Cols(), _Cols()
    for home in homes:
        p = home.person
        residents.append(SimResident(p.resident_id, p.lat, p.lon, frozenset(p.flags)))
        index = {}
        for name, kind in DEVICE_KINDS.items():
            index[name] = len(devices)
            devices.append(
                SimDevice(f"{p.resident_id}-{name}", kind, p.resident_id, INTERVAL_S[name])
            )
        _noise(rng, home, spec.noise, end - start)
        cut = {name: home.silenced.get(name, math.inf) for name in index}
        w = index["watch"]
        alive = home.vitals_ts < cut["watch"]
        assert home.arrival is not None
        vit.add(w, home.vitals_ts[alive], home.vitals[alive], arrival=home.arrival[alive])
        for ts, dev, kind, key in home.events:
            if ts < cut[dev]:
                ev.add_row(index[dev], ts, type=kind, key=key)
        for ts, dev, online, batt in home.statuses:
            if ts < cut[dev] or online == 0:
                st.add_row(index[dev], ts, online=online, battery=batt)
        for ts, lat, lon, acc in home.locations:
            if ts < cut["watch"]:
                loc.add_row(w, ts, lat=lat, lon=lon, acc=acc)
    return Scenario(
        spec=spec,
        start=start,
        scored_from=scored_from,
        end=end,
        residents=residents,
        devices=devices,
        vitals=vit.channel(VITALS),
        events=ev.channel(("type", "key")),
        locations=loc.channel(("lat", "lon", "acc")),
        statuses=st.channel(("online", "battery")),
        labels=labels,
    )


def _noise(rng: np.random.Generator, home: Home, noise: Noise, seconds: float) -> None:
    """What real wearables add: artefacts, lost and late messages, broken values."""
    days = seconds / 86400
    v, n = home.vitals, len(home.vitals_ts)
    arrival = home.vitals_ts.copy()

    def rows(rate: float) -> np.ndarray:
        return rng.integers(0, n, rng.poisson(rate * days))

    for r in rows(noise.artefacts_per_day):  # a loose strap, an arm swinging
        col = rng.choice([HR, SPO2, TEMP])
        v[r, col] = {HR: rng.choice([38.0, 150.0]), SPO2: 82.0, TEMP: 34.6}[col]
    for r in rows(noise.bad_values_per_day):
        col, value = [(HR, math.nan), (HR, -5.0), (SPO2, 101.0), (TEMP, 0.0)][rng.integers(4)]
        v[r, col] = value
    late = rows(noise.out_of_order_per_day)
    keep = np.ones(n, bool)
    keep[rows(noise.gaps_per_day)] = False
    # a late reading: measured two minutes earlier, arriving now (a retransmission)
    home.vitals_ts = np.concatenate([home.vitals_ts[keep], home.vitals_ts[late] - 120])
    home.vitals = np.concatenate([v[keep], v[late]])
    home.arrival = np.concatenate([arrival[keep], arrival[late]])
    if home.locations:
        for j in rng.integers(0, len(home.locations), rng.poisson(noise.gps_jumps_per_day * days)):
            t, lat, lon, _ = home.locations[j]
            jump = rng.uniform(300, 800) / 111_320
            home.locations[j] = (t, lat + jump, lon, 500.0)


class _Cols:
    def __init__(self) -> None:
        self.device: list[np.ndarray] = []
        self.ts: list[np.ndarray] = []
        self.arrival: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.rows: list[tuple[int, float, dict[str, object]]] = []

    def add(self, device: int, ts: np.ndarray, values: np.ndarray, *, arrival: np.ndarray) -> None:
        self.device.append(np.full(len(ts), device, np.int32))
        self.ts.append(ts)
        self.arrival.append(arrival)
        self.values.append(values)

    def add_row(self, device: int, ts: float, **values: object) -> None:
        self.rows.append((device, ts, values))

    def channel(self, names: tuple[str, ...]) -> Channel:
        if self.values:
            device, ts = np.concatenate(self.device), np.concatenate(self.ts)
            arrival = np.concatenate(self.arrival)
            matrix = np.concatenate(self.values)
            columns = {name: matrix[:, j] for j, name in enumerate(names)}
        else:
            device = np.array([r[0] for r in self.rows], np.int32)
            ts = np.array([r[1] for r in self.rows], float)
            arrival = ts
            columns = {name: np.array([r[2][name] for r in self.rows]) for name in names}
        order = np.argsort(arrival, kind="stable")
        return Channel(
            device[order], arrival[order], ts[order], {k: c[order] for k, c in columns.items()}
        )
