"""Incidents staged in a home, each with the label that says what should catch it.

Every function changes the home's streams from time `t` on and returns a `Label`:
the rules that count as detecting it, and the window in which an alert is on time.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simulators.household import (
    BATTERY,
    HR,
    METRES_PER_DEG_LAT,
    RR,
    SBP,
    SPO2,
    TEMP,
    Home,
)

CRITICAL = frozenset({"sos", "fall", "fall_cancelled", "smoke", "gas"})


@dataclass(frozen=True)
class Label:
    resident_id: str
    kind: str
    start: float
    end: float
    rules: tuple[str, ...]  # the first is the rule a miss is charged to
    critical: bool = False
    severity: str | None = None  # expected final severity, where it matters


def _label(home: Home, kind: str, start: float, end: float, *rules: str, **kw: object) -> Label:
    return Label(home.person.resident_id, kind, start, end, rules, kind in CRITICAL, **kw)  # type: ignore[arg-type]


def _ramp(home: Home, t: float, rise_s: float, hold_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows from `t` to the end of the incident, and a 0..1 ramp over `rise_s`."""
    ts = home.vitals_ts
    rows = np.flatnonzero((ts >= t) & (ts < t + rise_s + hold_s))
    return rows, np.clip((ts[rows] - t) / rise_s, 0, 1)


def sos(rng: np.random.Generator, home: Home, t: float) -> Label:
    device = "sos_button" if rng.random() < 0.5 else "watch"
    home.event(t, device, "sos")
    return _label(home, "sos", t, t + 60, "sos")


def fall(rng: np.random.Generator, home: Home, t: float) -> Label:
    home.event(t, "watch", "fall")
    return _label(home, "fall", t, t + 60, "fall")


def fall_cancelled(rng: np.random.Generator, home: Home, t: float) -> Label:
    home.event(t, "watch", "fall")
    home.event(t + rng.uniform(5, 60), "watch", "sos_cancel")
    return _label(home, "fall_cancelled", t, t + 60, "fall", severity="P3")


def _sensor_alarm(kind: str, device: str) -> Callable[[np.random.Generator, Home, float], Label]:
    def stage(rng: np.random.Generator, home: Home, t: float) -> Label:
        home.event(t, device, kind)
        return _label(home, kind, t, t + 60, kind)

    return stage


def spo2_decline(rng: np.random.Generator, home: Home, t: float) -> Label:
    """Oxygen saturation sliding down over hours (a chest infection, heart failure)."""
    rise, hold = rng.uniform(2, 6) * 3600, 3 * 3600
    rows, ramp = _ramp(home, t, rise, hold)
    home.vitals[rows, SPO2] = np.round(home.vitals[rows, SPO2] - ramp * rng.uniform(7, 10))
    home.vitals[rows, HR] = np.round(home.vitals[rows, HR] + ramp * 12)
    home.vitals[rows, RR] = np.round(home.vitals[rows, RR] + ramp * 5)
    return _label(home, "spo2_decline", t, t + rise + hold, "vitals_baseline", "vitals_news2")


def fever(rng: np.random.Generator, home: Home, t: float) -> Label:
    rise, hold = rng.uniform(1, 3) * 3600, 5 * 3600
    rows, ramp = _ramp(home, t, rise, hold)
    home.vitals[rows, TEMP] = np.round(home.vitals[rows, TEMP] + ramp * rng.uniform(2.2, 3.0), 1)
    home.vitals[rows, HR] = np.round(home.vitals[rows, HR] + ramp * 18)
    home.vitals[rows, RR] = np.round(home.vitals[rows, RR] + ramp * 5)
    return _label(
        home, "fever", t, t + rise + hold, "vitals_absolute", "vitals_news2", "vitals_baseline"
    )


def hypertensive_crisis(rng: np.random.Generator, home: Home, t: float) -> Label:
    """Systolic pressure climbing past 180 mmHg over half an hour, for two hours."""
    rise, hold = 1800.0, 2 * 3600.0
    rows, ramp = _ramp(home, t, rise, hold)
    sbp = home.vitals[rows, SBP]
    target = rng.uniform(188, 215)
    home.vitals[rows, SBP] = np.round(sbp + ramp * (target - sbp))
    home.vitals[rows, HR] = np.round(home.vitals[rows, HR] + ramp * 8)
    return _label(home, "hypertensive_crisis", t, t + rise + hold, "vitals_absolute")


def bradycardia(rng: np.random.Generator, home: Home, t: float) -> Label:
    rows, ramp = _ramp(home, t, 600, 2 * 3600)
    target = rng.uniform(34, 40)
    hr = home.vitals[rows, HR]
    home.vitals[rows, HR] = np.round(hr - ramp * (hr - target))
    home.vitals[rows, SBP] = np.round(home.vitals[rows, SBP] - ramp * 25)
    return _label(home, "bradycardia", t, t + 600 + 2 * 3600, "vitals_news2", "vitals_baseline")


def silent_home(rng: np.random.Generator, home: Home, t: float) -> Label:
    """Collapsed in the living room, not wearing the watch's fall detection."""
    end = t + 10 * 3600
    home.drop_activity(t, end)
    home.event(t - 60, "motion", "motion")  # at home and moving, just before
    return _label(home, "silent_home", t, end, "inactivity", "night_bed_exit")


def night_fall(rng: np.random.Generator, home: Home, t: float) -> Label:
    """Out of bed at night, a few steps, then on the floor until morning."""
    end = t + 4 * 3600
    home.drop_activity(t - 600, end)
    home.event(t, "bed", "bed_exit")
    home.event(t + 40, "motion", "motion")
    return _label(home, "night_fall", t, end, "night_bed_exit", "inactivity")


def door_open_night(rng: np.random.Generator, home: Home, t: float) -> Label:
    home.drop_activity(t - 300, t + 3600, frozenset({"door_open", "door_close"}))
    home.event(t, "door", "door_open")
    home.event(t + 3600, "door", "door_close")
    return _label(home, "door_open_night", t, t + 3600, "night_door_open")


def wandering_night(rng: np.random.Generator, home: Home, t: float) -> Label:
    """Leaves home at night and walks away; the watch keeps reporting where."""
    p = home.person
    duration = rng.uniform(1.5, 3) * 3600
    home.drop_activity(t - 600, t + duration)
    home.event(t, "bed", "bed_exit")
    home.event(t + 60, "motion", "motion")
    home.event(t + 240, "door", "door_open")
    home.event(t + 260, "door", "door_close")
    home.locations = [loc for loc in home.locations if not (t <= loc[0] < t + duration)]
    bearing = rng.uniform(0, 2 * math.pi)
    for dt in np.arange(300, duration, 300.0):
        metres = min(dt, duration - dt) * 0.6  # a slow walk out, and back
        north, east = metres * math.cos(bearing), metres * math.sin(bearing)
        lat = p.lat + north / METRES_PER_DEG_LAT
        lon = p.lon + east / (METRES_PER_DEG_LAT * math.cos(math.radians(p.lat)))
        home.locations.append((t + dt, lat, lon, 15.0))
    home.event(t + duration, "door", "door_open")
    home.event(t + duration + 20, "door", "door_close")
    home.event(t + duration + 60, "motion", "motion")
    return _label(home, "wandering_night", t, t + duration, "geofence_night", "night_bed_exit")


def flat_battery(rng: np.random.Generator, home: Home, t: float) -> Label:
    """The watch was not charged last night: from 30% at `t` it runs down and dies."""
    ts = home.vitals_ts
    rows = np.flatnonzero(ts >= t)
    drain_per_h = 5.0
    home.vitals[rows, BATTERY] = np.maximum(30.0 - (ts[rows] - t) / 3600 * drain_per_h, 0)
    home.silenced["watch"] = t + 30.0 / drain_per_h * 3600
    low = t + (30.0 - 15.0) / drain_per_h * 3600
    return _label(home, "flat_battery", low, math.inf, "low_battery", "offline")


def watch_offline(rng: np.random.Generator, home: Home, t: float) -> Label:
    home.silenced["watch"] = t
    if rng.random() < 0.5:  # the broker noticed the dropped connection: last will
        home.statuses.append((t + 45, "watch", 0, math.nan))
    return _label(home, "watch_offline", t, math.inf, "offline")


def sensor_offline(rng: np.random.Generator, home: Home, t: float) -> Label:
    device = str(rng.choice(["motion", "smoke", "sos_button", "door"]))
    home.silenced[device] = t
    return _label(home, "sensor_offline", t, math.inf, "offline", "inactivity")


def removed(rng: np.random.Generator, home: Home, t: float) -> Label:
    end = t + 2 * 3600
    home.event(t, "watch", "removed")
    rows = np.flatnonzero((home.vitals_ts >= t) & (home.vitals_ts < end))
    home.vitals[rows, :BATTERY] = np.nan  # nothing to measure off the wrist
    return _label(home, "removed", t, end, "removed")


# When in the local day each incident may start, in hours.
STAGES: dict[str, tuple[Callable[[np.random.Generator, Home, float], Label], float, float]] = {
    "sos": (sos, 8, 21),
    "fall": (fall, 8, 21),
    "fall_cancelled": (fall_cancelled, 8, 21),
    "smoke": (_sensor_alarm("smoke", "smoke"), 0, 24),
    "gas": (_sensor_alarm("gas", "gas"), 0, 24),
    "water_leak": (_sensor_alarm("water_leak", "water"), 0, 24),
    "spo2_decline": (spo2_decline, 0, 24),
    "fever": (fever, 0, 24),
    "bradycardia": (bradycardia, 0, 24),
    "hypertensive_crisis": (hypertensive_crisis, 6, 22),
    "silent_home": (silent_home, 9, 15),
    "night_fall": (night_fall, 23.5, 27),
    "door_open_night": (door_open_night, 23, 27),
    "wandering_night": (wandering_night, 0.5, 3.5),
    "flat_battery": (flat_battery, 8, 12),
    "watch_offline": (watch_offline, 0, 24),
    "sensor_offline": (sensor_offline, 0, 24),
    "removed": (removed, 9, 17),
}
