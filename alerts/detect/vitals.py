"""Vital signs: NEWS2 scoring on each wearer's latest values, and personal baselines.

Each metric keeps its last three values; rules read their median, so a single motion
artefact (a 150/min pulse, an 82% SpO2 from a loose strap) moves nothing. Baselines
are an exponentially weighted mean and variance per device and metric that only learn
from readings near the baseline, so an illness developing over hours is not absorbed.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from alerts.detect.absolute import AbsoluteRules
from alerts.detect.arrays import grown
from alerts.detect.config import DetectorConfig
from alerts.detect.episodes import Episodes
from alerts.detect.findings import finding
from alerts.detect.news2 import subscores
from alerts.detect.observations import METRICS, Vitals
from alerts.detect.registry import Registry, per_home
from alerts.models import Finding, Severity

# Plausible physiology; anything outside is a sensor fault, counted and skipped.
VALID_LOW = np.array([20, 50, 30, 50, 4], np.float32)
VALID_HIGH = np.array([250, 100, 43, 260, 60], np.float32)
# A deviation must be this large in absolute terms too, and a baseline's spread is
# never taken as tighter than this (a very steady wearer is not a hair trigger).
DEVIATION_MIN = np.array([15, 3, 0.8, 25, 6], np.float32)
SD_FLOOR = np.array([3, 0.7, 0.15, 5, 1.5], np.float32)

DIGITS = (0, 0, 1, 0, 0)


class VitalsRule:
    def __init__(self, registry: Registry, config: DetectorConfig) -> None:
        self.registry = registry
        self.config = config
        m = len(METRICS)
        self.last_ts = np.zeros(0, np.float64)
        # last three values per metric, oldest first; rows of 3 x metrics so one
        # gather fetches a device's whole window
        self.recent = np.zeros((0, 3, m), np.float32)
        self.value_ts = np.zeros((0, m), np.float64)
        # the baseline per metric: row 0 mean, row 1 variance, row 2 readings learned
        self.base = np.zeros((0, 3, m), np.float32)
        k, persist = config.vitals_readings_to_fire, config.vitals_persist_s
        self.news_p2 = Episodes(k=k, clear_s=config.clear_s, min_s=persist)
        self.news_p1 = Episodes(k=k, clear_s=config.clear_s, min_s=persist)
        self.deviation = Episodes(k=k + 1, clear_s=config.clear_s, min_s=persist)
        self.absolute = AbsoluteRules(k=k, clear_s=config.clear_s, persist_s=persist)
        self.skipped_values = 0
        self.skipped_out_of_order = 0

    def resize(self, n: int) -> None:
        self.last_ts = grown(self.last_ts, n, -np.inf)
        self.recent = grown(self.recent, n, np.nan)
        self.value_ts = grown(self.value_ts, n, -np.inf)
        if self.base.shape[0] < n:
            old = self.base.shape[0]
            self.base = grown(self.base, n, 0.0)
            self.base[old:, 0] = np.nan
        for e in (self.news_p2, self.news_p1, self.deviation):
            e.resize(n)
        self.absolute.resize(n)

    def state_bytes(self) -> int:
        arrays = (self.last_ts, self.recent, self.value_ts, self.base)
        episodes = (self.news_p2, self.news_p1, self.deviation)
        return (
            sum(a.nbytes for a in arrays)
            + sum(e.state_bytes() for e in episodes)
            + self.absolute.state_bytes()
        )

    def observe(self, v: Vitals) -> list[Finding]:
        """One round: every device in `v.dev` appears once."""
        in_order = v.ts > self.last_ts[v.dev]
        self.skipped_out_of_order += int(np.count_nonzero(~in_order))
        if not in_order.all():
            v = v.take(np.flatnonzero(in_order))
        dev, ts = v.dev, v.ts
        self.last_ts[dev] = ts
        values = v.values
        with np.errstate(invalid="ignore"):
            valid = (values >= VALID_LOW) & (values <= VALID_HIGH)
        self.skipped_values += int(np.count_nonzero(~valid & ~np.isnan(values)))
        values = np.where(valid, values, np.float32(np.nan))
        has = valid.any(axis=1)
        if not has.any():
            return []
        if not has.all():
            keep = np.flatnonzero(has)
            dev, ts, values, valid = dev[keep], ts[keep], values[keep], valid[keep]

        recent = self.recent[dev]
        # a metric's first value fills its whole window, so the median needs no NaN care
        # (and a window holds NaN only where the metric was never seen)
        never = np.isnan(recent[:, 2])
        older = np.where(never, values, recent[:, 1])
        newer = np.where(never, values, recent[:, 2])
        a = np.where(valid, older, recent[:, 0])
        b = np.where(valid, newer, recent[:, 1])
        c = np.where(valid, values, recent[:, 2])
        self.recent[dev] = np.stack((a, b, c), axis=1)
        value_ts = np.where(valid, ts[:, None], self.value_ts[dev])
        self.value_ts[dev] = value_ts
        median = _median3(a, b, c)  # contiguous columns: faster than strided views
        is_fresh = ts[:, None] - value_ts <= self.config.vitals_fresh_s
        fresh = np.where(is_fresh, median, np.float32(np.nan))

        # the wearer's baseline, read once for both rules
        base = self.base[dev]
        sd = np.maximum(np.sqrt(base[:, 1]), SD_FLOOR)
        warm = base[:, 2] >= self.config.baseline_warm_readings
        with np.errstate(invalid="ignore"):
            gap = np.abs(fresh - base[:, 0])
        usual = warm & (gap < 3 * sd)
        out = self._news2(dev, ts, fresh, usual)
        out += self.absolute.observe(self.registry.device_ids, dev, ts, fresh)
        out += self._baseline(dev, ts, values, valid, fresh, _Snapshot(base, sd, warm, gap))
        return out

    def _news2(
        self,
        dev: NDArray[np.int32],
        ts: NDArray[np.float64],
        fresh: NDArray[np.float32],
        usual: NDArray[np.bool_],
    ) -> list[Finding]:
        scale2 = per_home(self.registry.spo2_scale2, self.registry.home[dev], False).astype(bool)
        sub = subscores(fresh, scale2)
        total = sub.sum(axis=1)
        # Personal adjustment: a 3 from a value inside the wearer's own usual range (a
        # resting pulse of 42 in someone whose baseline is 52) does not trigger alone.
        single3 = ((sub == 3) & ~usual).any(axis=1)
        # cleared only once clearly better (hysteresis): P1 below 5, P2 below 3, no 3s
        p1 = self.news_p1.step(dev, ts, total >= 7, total <= 4)
        p2 = self.news_p2.step(dev, ts, (total >= 5) | single3, (total <= 2) & ~single3)
        out: list[Finding] = []
        for j in np.flatnonzero(p1 | p2):
            severity = Severity.P1 if p1[j] else Severity.P2
            episodes = self.news_p1 if p1[j] else self.news_p2
            out.append(
                self._news2_finding(int(dev[j]), float(ts[j]), severity, episodes, sub[j], fresh[j])
            )
        return out

    def _news2_finding(
        self,
        d: int,
        ts: float,
        severity: Severity,
        episodes: Episodes,
        sub: NDArray[np.int8],
        fresh: NDArray[np.float32],
    ) -> Finding:
        since = float(episodes.since[d])
        scored = [int(m) for m in np.argsort(-sub, kind="stable") if sub[m] > 0]
        digits = {m: DIGITS[m] for m in scored}
        values: dict[str, object] = {
            "news2": int(sub.sum()),
            "parts": [
                {
                    "metric": METRICS[m],
                    "value": round(float(fresh[m]), digits[m]),
                    "score": int(sub[m]),
                }
                for m in scored
            ],
            "readings": int(episodes.run[d]),
            "over_s": round(ts - since),
            "baseline": [
                {"metric": METRICS[m], "value": round(float(self.base[d, 0, m]), digits[m])}
                for m in scored
                if self.base[d, 2, m] >= self.config.baseline_warm_readings
            ],
        }
        return finding(
            device_id=self.registry.device_ids[d],
            rule="vitals_news2",
            severity=severity,
            code="vitals_news2",
            values=values,
            ts=ts,
            episode=f"{since:.0f}:{severity}",
            data={
                "news2": int(sub.sum()),
                "subscores": dict(zip(METRICS, sub.tolist(), strict=True)),
            },
        )

    def _baseline(
        self,
        dev: NDArray[np.int32],
        ts: NDArray[np.float64],
        values: NDArray[np.float32],
        valid: NDArray[np.bool_],
        fresh: NDArray[np.float32],
        snap: "_Snapshot",
    ) -> list[Finding]:
        base, sd, warm, gap = snap.base, snap.sd, snap.warm, snap.gap
        mean, var, n = base[:, 0], base[:, 1], base[:, 2]
        z: NDArray[np.float32] = per_home(self.registry.baseline_z, self.registry.home[dev], 4.0)
        z_limit = z[:, None]
        with np.errstate(invalid="ignore"):
            deviates = warm & (gap >= np.maximum(z_limit * sd, DEVIATION_MIN))
            # learn only from readings near the baseline (or while it is still forming)
            learn = valid & (~warm | (np.abs(values - mean) < 3 * sd))
        alpha = np.maximum(1.0 / (n + 1.0), 1.0 / self.config.baseline_half_life_readings)
        delta = np.where(learn, values - np.nan_to_num(mean, nan=0.0), 0.0)
        new_mean = np.where(np.isnan(mean), values, mean + alpha * delta)
        base[:, 0] = np.where(learn, new_mean, mean)
        base[:, 1] = np.where(learn, (1 - alpha) * (var + alpha * delta * delta), var)
        base[:, 2] = n + learn
        self.base[dev] = base

        fired = self.deviation.step(dev, ts, deviates.any(axis=1))
        out: list[Finding] = []
        for j in np.flatnonzero(fired):
            d = int(dev[j])
            since = float(self.deviation.since[d])
            which = [int(m) for m in np.flatnonzero(deviates[j])]
            parts = [
                {
                    "metric": METRICS[m],
                    "value": round(float(fresh[j, m]), DIGITS[m]),
                    "mean": round(float(mean[j, m]), DIGITS[m]),
                    "sd": round(float(sd[j, m]), DIGITS[m]),
                }
                for m in which
            ]
            out.append(
                finding(
                    device_id=self.registry.device_ids[d],
                    rule="vitals_baseline",
                    severity=Severity.P3,
                    code="vitals_baseline",
                    values={
                        "parts": parts,
                        "readings": int(self.deviation.run[d]),
                        "over_s": round(float(ts[j] - since)),
                    },
                    ts=float(ts[j]),
                    episode=f"{since:.0f}",
                    data={"metrics": [METRICS[m] for m in which]},
                )
            )
        return out

    def baselines(self, d: int) -> dict[str, tuple[float, float, float]]:
        """(mean, sd, readings) per metric for one device: for the API and tests."""
        mean, var, n = self.base[d]
        return {
            metric: (float(mean[m]), float(np.sqrt(var[m])), float(n[m]))
            for m, metric in enumerate(METRICS)
        }


@dataclass(frozen=True, slots=True)
class _Snapshot:
    base: NDArray[np.float32]  # rows of mean, variance, readings
    sd: NDArray[np.float32]
    warm: NDArray[np.bool_]
    gap: NDArray[np.float32]  # |median - mean|


def _median3(
    a: NDArray[np.float32], b: NDArray[np.float32], c: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Element-wise median of three windows' values (NaN where a metric was never seen)."""
    return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
