"""Events a device reports: SOS, fall (and the wearer cancelling it), smoke, gas, carbon
monoxide, water, an alarm of no stated kind, a wearable taken off. These need no
statistics; they must never wait."""

import numpy as np

from alerts.detect.arrays import grown
from alerts.detect.config import DetectorConfig
from alerts.detect.findings import at, finding
from alerts.detect.observations import EVENT_CODE, EVENT_TYPES, Events
from alerts.detect.registry import Registry
from alerts.models import Downgrade, Finding, Outcome, Severity
from alerts.reasons import Lang, render
from devices.models import URGENT_EVENTS, EventType

_IMMEDIATE_ALERTS: dict[EventType, Severity] = {
    EventType.SOS: Severity.P1,
    EventType.FALL: Severity.P1,
    EventType.SMOKE: Severity.P1,
    EventType.GAS: Severity.P1,
    EventType.CARBON_MONOXIDE: Severity.P1,
    EventType.WATER_LEAK: Severity.P1,
    EventType.ALARM: Severity.P1,
}
# Every urgent event has its alert: a type added to URGENT_EVENTS without one stops
# the service at start-up (KeyError here), not the writer at the first such event.
IMMEDIATE = {event: _IMMEDIATE_ALERTS[event] for event in sorted(URGENT_EVENTS)}
IMMEDIATE_CODES = np.array([EVENT_CODE[t] for t in IMMEDIATE], np.int8)
RULE = {EventType.WATER_LEAK: "water_leak"}  # the rest are named as their event


def immediate_finding(device_id: str, event: EventType, ts: float, key: str) -> Finding:
    rule = RULE.get(event, str(event))
    # one alert per press: the key carries the device's own event id or seq
    return finding(
        device_id=device_id,
        rule=rule,
        severity=IMMEDIATE[event],
        code=rule,
        values={},
        ts=ts,
        episode=f"{at(ts).isoformat()}:{key}",
        data={"event_key": key},
    )


class EventsRule:
    def __init__(self, registry: Registry, config: DetectorConfig) -> None:
        self.registry = registry
        self.config = config
        self.fall_ts = np.zeros(0, np.float64)
        self.removed_ts = np.zeros(0, np.float64)
        self._fall_keys: dict[int, str] = {}  # falls still inside the cancel grace

    def resize(self, n: int) -> None:
        self.fall_ts = grown(self.fall_ts, n, np.nan)
        self.removed_ts = grown(self.removed_ts, n, np.nan)

    def state_bytes(self) -> int:
        return self.fall_ts.nbytes + self.removed_ts.nbytes

    def observe(self, e: Events, pos: np.ndarray) -> list[Outcome]:
        """One round of events (`pos` into `e`, one per device)."""
        out: list[Outcome] = []
        code = e.code[pos]
        dev = e.dev[pos]
        ts = e.ts[pos]
        for j in np.flatnonzero(np.isin(code, IMMEDIATE_CODES)):
            d, event = int(dev[j]), EVENT_TYPES[int(code[j])]
            f = immediate_finding(self.registry.device_ids[d], event, float(ts[j]), e.keys[pos[j]])
            out.append(f)
            if event is EventType.FALL:
                self.fall_ts[d] = ts[j]
                self._fall_keys[d] = f.dedup_key
        cancel = code == EVENT_CODE[EventType.SOS_CANCEL]
        for j in np.flatnonzero(cancel):
            d = int(dev[j])
            since = float(ts[j] - self.fall_ts[d])
            if d in self._fall_keys and 0 <= since <= self.config.fall_cancel_grace_s:
                out.append(
                    Downgrade(
                        dedup_key=self._fall_keys.pop(d),
                        severity=Severity.P3,
                        note=render("fall_cancelled", {"after_s": round(since)}, Lang.EN),
                        observed_at=at(float(ts[j])),
                        code="fall_cancelled",
                        values={"after_s": round(since)},
                    )
                )
                self.fall_ts[d] = np.nan
        removed = code == EVENT_CODE[EventType.REMOVED]
        self.removed_ts[dev[removed]] = ts[removed]
        return out

    def worn(self, dev: np.ndarray, ts: np.ndarray) -> None:
        """A pulse was measured at `ts`: the wearable is on a wrist (again)."""
        again = dev[ts > self.removed_ts[dev]]
        self.removed_ts[again] = np.nan

    def sweep(self, now: float) -> list[Outcome]:
        stale = [
            d for d in self._fall_keys if now - self.fall_ts[d] > self.config.fall_cancel_grace_s
        ]
        for d in stale:
            del self._fall_keys[d]
        with np.errstate(invalid="ignore"):
            due = np.flatnonzero(now - self.removed_ts >= self.config.removed_grace_s)
        out: list[Outcome] = []
        for d in map(int, due):
            since = float(self.removed_ts[d])
            out.append(
                finding(
                    device_id=self.registry.device_ids[d],
                    rule="removed",
                    severity=Severity.P3,
                    code="removed",
                    values={"off_s": round(now - since)},
                    ts=now,
                    episode=f"{since:.0f}",
                )
            )
        self.removed_ts[due] = np.nan
        return out
