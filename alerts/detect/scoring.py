"""Scoring a detector against labelled incidents: what it caught, how fast, what it
raised that nobody needed."""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

# An alert this long after an incident's window still belongs to it (sweeps, delays).
LATE_S = 3600.0


class Incident(Protocol):
    @property
    def resident_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def rules(self) -> tuple[str, ...]: ...
    @property
    def critical(self) -> bool: ...
    @property
    def severity(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Raised:
    """An alert the detector raised: who, which rule, when, and its final severity."""

    resident_id: str
    rule: str
    at: float
    severity: str


@dataclass
class RuleScore:
    true_positives: int = 0
    false_positives: int = 0
    misses: int = 0
    related: int = 0  # raised during someone's labelled incident, by another rule
    delays: list[float] = field(default_factory=list)

    def report(self) -> dict[str, float | int | None]:
        d = np.asarray(self.delays)
        return {
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "misses": self.misses,
            "related": self.related,
            "median_delay_s": round(float(np.median(d)), 1) if len(d) else None,
            "p95_delay_s": round(float(np.percentile(d, 95)), 1) if len(d) else None,
        }


@dataclass
class Score:
    rules: dict[str, RuleScore] = field(default_factory=lambda: defaultdict(RuleScore))
    incidents: int = 0
    detected: int = 0
    critical: int = 0
    missed_critical: list[str] = field(default_factory=list)
    wrong_severity: list[str] = field(default_factory=list)
    false_alerts: int = 0
    resident_days: float = 0.0

    def add(self, other: "Score") -> None:
        for rule, s in other.rules.items():
            mine = self.rules[rule]
            mine.true_positives += s.true_positives
            mine.false_positives += s.false_positives
            mine.misses += s.misses
            mine.related += s.related
            mine.delays += s.delays
        self.incidents += other.incidents
        self.detected += other.detected
        self.critical += other.critical
        self.missed_critical += other.missed_critical
        self.wrong_severity += other.wrong_severity
        self.false_alerts += other.false_alerts
        self.resident_days += other.resident_days

    def report(self) -> dict[str, object]:
        other = self.incidents - self.critical
        caught_other = self.detected - (self.critical - len(self.missed_critical))
        return {
            "rules": {rule: s.report() for rule, s in sorted(self.rules.items())},
            "incidents": self.incidents,
            "detected": self.detected,
            # recall over the incidents that are not SOS, fall, smoke or gas
            "recall": round(caught_other / other, 4) if other else None,
            "missed_critical": len(self.missed_critical),
            "missed_critical_incidents": self.missed_critical,
            "wrong_severity": self.wrong_severity,
            "false_alerts": self.false_alerts,
            "resident_days": self.resident_days,
            "false_alerts_per_resident_day": (
                round(self.false_alerts / self.resident_days, 4) if self.resident_days else None
            ),
        }


def score(
    *,
    incidents: Iterable[Incident],
    raised: Iterable[Raised],
    scored_from: float,
    resident_days: float,
    scored_until: float = np.inf,
) -> Score:
    """Match alerts to incidents. Alerts before `scored_from` (warm-up) are ignored;
    with `scored_until`, so are alerts from then on and incidents that start then or
    later (an incident of the window caught only after it counts as missed in it)."""
    result = Score(resident_days=resident_days)
    alerts = [a for a in raised if scored_from <= a.at < scored_until]
    by_resident: Mapping[str, list[Raised]] = _group(alerts)
    used: set[int] = set()
    incidents = [i for i in incidents if i.start < scored_until]
    for inc in incidents:
        result.incidents += 1
        result.critical += inc.critical
        mine = by_resident.get(inc.resident_id, [])
        hits = [a for a in mine if a.rule in inc.rules and _within(a, inc)]
        for a in hits:
            used.add(id(a))
        for rule in {a.rule for a in hits}:
            first = min(a.at for a in hits if a.rule == rule)
            result.rules[rule].true_positives += 1
            result.rules[rule].delays.append(max(0.0, first - inc.start))
        label = f"{inc.kind} {inc.resident_id} at {inc.start:.0f}"
        if hits:
            result.detected += 1
            if inc.severity and not any(a.severity == inc.severity for a in hits):
                result.wrong_severity.append(label)
        else:
            result.rules[inc.rules[0]].misses += 1
            if inc.critical:
                result.missed_critical.append(label)
    for a in alerts:
        if id(a) in used:
            continue
        during = any(inc.resident_id == a.resident_id and _within(a, inc) for inc in incidents)
        if during:
            result.rules[a.rule].related += 1
        else:
            result.rules[a.rule].false_positives += 1
            result.false_alerts += 1
    return result


def _within(a: Raised, inc: Incident) -> bool:
    return inc.start - 1.0 <= a.at <= inc.end + LATE_S


def _group(alerts: list[Raised]) -> dict[str, list[Raised]]:
    out: dict[str, list[Raised]] = defaultdict(list)
    for a in alerts:
        out[a.resident_id].append(a)
    return out
