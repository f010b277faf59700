"""The detector engine: every rule, fed one batch at a time."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from alerts.detect.config import DetectorConfig
from alerts.detect.events import EventsRule
from alerts.detect.geofence import GeofenceRule
from alerts.detect.health import HealthRule
from alerts.detect.home import HomeRule
from alerts.detect.observations import HR, Observations, rounds
from alerts.detect.registry import DeviceInfo, HomeInfo, Registry
from alerts.detect.vitals import VitalsRule
from alerts.models import Outcome


@dataclass(slots=True)
class Learned:
    """Per device: when it was last heard from, and its vital-sign baselines
    (rows mean, variance, readings learned; one column per metric)."""

    device_ids: list[str]
    last_seen: NDArray[np.float64]
    baseline: NDArray[np.float32]


class Engine:
    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self.registry = Registry()
        self.vitals = VitalsRule(self.registry, self.config)
        self.events = EventsRule(self.registry, self.config)
        self.home = HomeRule(self.registry, self.config)
        self.health = HealthRule(self.registry, self.config)
        self.geofence = GeofenceRule(self.registry, self.config)
        self._skipped: Counter[str] = Counter()

    def register(
        self, *, homes: Iterable[HomeInfo] = (), devices: Iterable[DeviceInfo] = ()
    ) -> None:
        if self.registry.add(homes=homes, devices=devices):
            d, h = self.registry.device_capacity, self.registry.home_capacity
            self.vitals.resize(d)
            self.events.resize(d)
            self.health.resize(d)
            self.geofence.resize(d)
            self.home.resize(d, h)

    @property
    def skipped(self) -> dict[str, int]:
        """Readings (or values) the engine refused, by reason."""
        counts = Counter(self._skipped)
        counts["invalid_value"] += self.vitals.skipped_values
        counts["out_of_order"] += self.vitals.skipped_out_of_order
        return {k: v for k, v in counts.items() if v}

    def observe(self, obs: Observations) -> list[Outcome]:
        """Run every rule over one batch; returns what should become (or change) alerts."""
        obs = self._known(obs)
        out: list[Outcome] = []
        ev, vi, lo, st = obs.events, obs.vitals, obs.locations, obs.statuses
        alive = st.online != 0
        for dev, ts in (
            (vi.dev, vi.ts),
            (ev.dev, ev.ts),
            (lo.dev, lo.ts),
            (st.dev[alive], st.ts[alive]),
        ):
            if len(dev):
                self.health.seen(dev, ts)
        for pos in rounds(ev.dev, ev.ts):
            out += self.events.observe(ev, pos)
            self.home.observe(ev, pos)
        for pos in rounds(vi.dev, vi.ts):
            v = vi.take(pos)
            out += self.vitals.observe(v)
            pulse = ~np.isnan(v.values[:, HR])
            self.events.worn(v.dev[pulse], v.ts[pulse])
            out += self.health.battery(v.dev, v.ts, v.battery)
        for pos in rounds(lo.dev, lo.ts):
            out += self.geofence.observe(lo.take(pos))
        if len(st.dev):
            gone = st.online == 0
            out += self.health.last_will(st.dev[gone], st.ts[gone])
            for pos in rounds(st.dev, st.ts):
                out += self.health.battery(st.dev[pos], st.ts[pos], st.battery[pos])
        return out

    def sweep(self, now: float) -> list[Outcome]:
        """The time-based rules, over every device and home at once."""
        out: list[Outcome] = []
        out += self.health.sweep(now)
        out += self.events.sweep(now)
        out += self.home.sweep(now)
        return out

    def watch_from(self, ts: float) -> None:
        """Nothing was observed before `ts` (a start, a database outage): silence is
        counted from then, so a blind spot does not page about every quiet device."""
        self.health.watching_since = ts
        self.home.watching_since = ts

    def learned(self) -> Learned:
        """What is worth keeping across a restart, per known device."""
        n = self.registry.n_devices
        return Learned(
            device_ids=list(self.registry.device_ids),
            last_seen=self.health.last_seen[:n].copy(),
            baseline=self.vitals.base[:n].copy(),
        )

    def restore(self, learned: Learned) -> None:
        """Put back a snapshot; devices the registry does not know are ignored."""
        index = self.registry.device_index(learned.device_ids)
        known = index >= 0
        rows = index[known]
        np.fmax.at(self.health.last_seen, rows, learned.last_seen[known])
        self.vitals.base[rows] = learned.baseline[known]

    def state_bytes(self) -> int:
        r = self.registry
        registry = sum(
            a.nbytes
            for a in (
                r.kind,
                r.home,
                r.interval,
                r.spo2_scale2,
                r.dementia,
                r.lat,
                r.lon,
                r.baseline_z,
                r.inactivity_floor_s,
                r.bed_exit_s,
                r.door_open_s,
                r.radius_m,
                r.low_battery,
                r.has_motion,
                r.home_device,
            )
        )
        rules = (self.vitals, self.events, self.health, self.geofence, self.home)
        return registry + sum(rule.state_bytes() for rule in rules)

    def _known(self, obs: Observations) -> Observations:
        """Drop rows of unknown devices or with an unusable time; count them."""

        def keep(dev: np.ndarray, ts: np.ndarray) -> np.ndarray | None:
            ok = (dev >= 0) & np.isfinite(ts)
            if ok.all():
                return None
            self._skipped["unknown_device"] += int(np.count_nonzero(dev < 0))
            self._skipped["bad_timestamp"] += int(np.count_nonzero((dev >= 0) & ~np.isfinite(ts)))
            return np.flatnonzero(ok)

        v, e, lo, s = obs.vitals, obs.events, obs.locations, obs.statuses
        if (pos := keep(v.dev, v.ts)) is not None:
            v = v.take(pos)
        if (pos := keep(e.dev, e.ts)) is not None:
            e = type(e)(e.dev[pos], e.ts[pos], e.code[pos], [e.keys[i] for i in pos])
        if (pos := keep(lo.dev, lo.ts)) is not None:
            lo = lo.take(pos)
        if (pos := keep(s.dev, s.ts)) is not None:
            s = type(s)(s.dev[pos], s.ts[pos], s.online[pos], s.battery[pos])
        return Observations(v, e, lo, s)
