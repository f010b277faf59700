"""Life at home from motion, door and bed sensors.

Inactivity: each home's activity rate per hour of the day is learned (an exponentially
weighted average over days, starting from a typical profile). A silence is alarming
when, at the learned rates, that long without a single event would happen by chance
less than `inactivity_p_value` of the time (Poisson), and it is longer than the
resident's floor. A home is not silent while its resident is out (the last thing the
sensors saw was the front door, and nothing has moved since) or asleep (in bed, by the
bed sensor).

At night two events need no learning: out of bed and nothing moving for 30 minutes,
and the front door left open for 10 minutes.
"""

import math

import numpy as np
from numpy.typing import NDArray

from alerts.detect.arrays import grown
from alerts.detect.clock import LocalClock
from alerts.detect.config import DetectorConfig
from alerts.detect.findings import finding
from alerts.detect.observations import EVENT_CODE, Events
from alerts.detect.registry import Registry
from alerts.models import Finding, Severity
from devices.models import EventType

ACTIVITY = np.array(
    [
        EVENT_CODE[t]
        for t in (
            EventType.MOTION,
            EventType.DOOR_OPEN,
            EventType.DOOR_CLOSE,
            EventType.BED_EXIT,
            EventType.BED_ENTER,
            EventType.BUTTON,
        )
    ],
    np.int8,
)
DOOR = np.array([EVENT_CODE[EventType.DOOR_OPEN], EVENT_CODE[EventType.DOOR_CLOSE]], np.int8)

# Events per hour in a typical home before any learning: up and about 7:00-21:00.
PRIOR_RATE = np.array([0.3] * 6 + [2.0] + [4.0] * 14 + [2.0] + [0.3] * 2, np.float32)


class HomeRule:
    def __init__(self, registry: Registry, config: DetectorConfig) -> None:
        self.registry = registry
        self.config = config
        self.clock = LocalClock(config)
        self.silence_limit = -math.log(config.inactivity_p_value)
        # per home
        self.last_activity = np.zeros(0, np.float64)
        self.last_motion = np.zeros(0, np.float64)
        self.last_door = np.zeros(0, np.float64)
        self.last_bed_exit = np.zeros(0, np.float64)
        self.last_bed_enter = np.zeros(0, np.float64)
        self.alerted_silence = np.zeros(0, np.float64)  # last_activity already alerted on
        self.counts = np.zeros((0, 24), np.float32)  # today's events per hour
        self.rate = np.zeros((0, 24), np.float32)  # learned events per hour
        self.day = np.zeros(0, np.int32)
        self.days_learned = np.zeros(0, np.float32)
        # per device (bed and door sensors)
        self.out_of_bed = np.zeros(0, np.float64)
        self.door_open = np.zeros(0, np.float64)
        self.watching_since = -np.inf  # see HealthRule.watching_since

    def resize(self, devices: int, homes: int) -> None:
        self.last_activity = grown(self.last_activity, homes, -np.inf)
        self.last_motion = grown(self.last_motion, homes, -np.inf)
        self.last_door = grown(self.last_door, homes, -np.inf)
        self.last_bed_exit = grown(self.last_bed_exit, homes, -np.inf)
        self.last_bed_enter = grown(self.last_bed_enter, homes, -np.inf)
        self.alerted_silence = grown(self.alerted_silence, homes, np.nan)
        self.counts = grown(self.counts, homes, 0.0)
        if self.rate.shape[0] < homes:
            old = self.rate.shape[0]
            self.rate = grown(self.rate, homes, 0.0)
            self.rate[old:] = PRIOR_RATE
        self.day = grown(self.day, homes, -1)
        self.days_learned = grown(self.days_learned, homes, 0.0)
        self.out_of_bed = grown(self.out_of_bed, devices, np.nan)
        self.door_open = grown(self.door_open, devices, np.nan)

    def state_bytes(self) -> int:
        arrays = (
            self.last_activity,
            self.last_motion,
            self.last_door,
            self.last_bed_exit,
            self.last_bed_enter,
            self.alerted_silence,
            self.counts,
            self.rate,
            self.day,
            self.days_learned,
            self.out_of_bed,
            self.door_open,
        )
        return sum(a.nbytes for a in arrays)

    def observe(self, e: Events, pos: NDArray[np.intp]) -> None:
        code, dev, ts = e.code[pos], e.dev[pos], e.ts[pos]
        home = self.registry.home[dev]
        active = np.isin(code, ACTIVITY) & (home >= 0)
        if active.any():
            self._roll(float(ts.max()))
            h, t = home[active], ts[active]
            np.maximum.at(self.last_activity, h, t)
            motion = code[active] == EVENT_CODE[EventType.MOTION]
            np.maximum.at(self.last_motion, h[motion], t[motion])
            door = np.isin(code[active], DOOR)
            np.maximum.at(self.last_door, h[door], t[door])
            for kind, last in (
                (EventType.BED_EXIT, self.last_bed_exit),
                (EventType.BED_ENTER, self.last_bed_enter),
            ):
                bed = code[active] == EVENT_CODE[kind]
                np.maximum.at(last, h[bed], t[bed])
            hour = self.clock.hour(t).astype(np.intp)
            # a float32 one: with a float64 scalar ufunc.at takes its slow casting path (20x)
            np.add.at(self.counts.reshape(-1), h * 24 + hour, np.float32(1.0))
        # getting up counts only at night; the timer ends with bed, or with the day
        night = self.clock.is_night(ts)
        self._set_timer(
            self.out_of_bed,
            dev,
            ts,
            np.where(night, code, -1),
            EventType.BED_EXIT,
            EventType.BED_ENTER,
        )
        self.out_of_bed[dev[code == EVENT_CODE[EventType.BED_ENTER]]] = np.nan
        self._set_timer(self.door_open, dev, ts, code, EventType.DOOR_OPEN, EventType.DOOR_CLOSE)

    @staticmethod
    def _set_timer(
        timer: NDArray[np.float64],
        dev: NDArray[np.int32],
        ts: NDArray[np.float64],
        code: NDArray[np.int8],
        start: EventType,
        stop: EventType,
    ) -> None:
        starts = code == EVENT_CODE[start]
        # a repeated "open" keeps the first time it opened
        timer[dev[starts]] = np.fmin(timer[dev[starts]], ts[starts])
        timer[dev[code == EVENT_CODE[stop]]] = np.nan

    def sweep(self, now: float) -> list[Finding]:
        self._roll(now)
        return self._silent_homes(now) + self._night_bed(now) + self._night_door(now)

    def _roll(self, now: float) -> None:
        """Fold finished days into the learned rates."""
        today = int(self.clock.day(now))
        n = self.registry.n_homes
        day = self.day[:n]
        done = (day >= 0) & (day < today)
        if done.any():
            i = np.flatnonzero(done)
            a = np.maximum(
                1.0 / (self.days_learned[i] + 2.0), 1.0 / self.config.inactivity_learning_days
            )[:, None]
            self.rate[i] = (1 - a) * self.rate[i] + a * self.counts[i]
            self.counts[i] = 0
            self.days_learned[i] += 1
        day[(day < today)] = today

    def _expected_events(
        self, homes: NDArray[np.intp], start: NDArray[np.float64], end: float
    ) -> NDArray[np.float64]:
        """Events the learned rates predict between `start` and `end`, per home."""
        rate = self.rate[homes].astype(np.float64)
        cum = np.concatenate([np.zeros((len(homes), 1)), np.cumsum(rate, axis=1)], axis=1)

        def integral(t: NDArray[np.float64]) -> NDArray[np.float64]:
            days = np.floor((t + self.clock.offset) / 86400.0)
            hour = self.clock.hour(t)
            h = np.minimum(hour.astype(np.intp), 23)[:, None]
            within = (
                np.take_along_axis(cum, h, 1)[:, 0]
                + (hour - h[:, 0]) * np.take_along_axis(rate, h, 1)[:, 0]
            )
            return np.asarray(days * cum[:, 24] + within)

        return integral(np.full(len(homes), end)) - integral(start)

    def _silent_homes(self, now: float) -> list[Finding]:
        r = self.registry
        n = r.n_homes
        seen = self.last_activity[:n]
        last = np.where(np.isfinite(seen), np.maximum(seen, self.watching_since), seen)
        away = self.last_door[:n] > self.last_motion[:n]
        asleep = self.last_bed_enter[:n] > self.last_bed_exit[:n]
        with np.errstate(invalid="ignore"):
            candidates = np.flatnonzero(
                r.has_motion[:n]
                & np.isfinite(last)
                & ~away
                & ~asleep
                & (now - last >= r.inactivity_floor_s[:n])
                & (self.alerted_silence[:n] != last)
            )
        if len(candidates) == 0:
            return []
        expected = self._expected_events(candidates, last[candidates], now)
        out: list[Finding] = []
        for j in np.flatnonzero(expected >= self.silence_limit):
            h = int(candidates[j])
            since = float(last[h])
            self.alerted_silence[h] = since
            out.append(
                finding(
                    device_id=r.device_ids[r.home_device[h]],
                    rule="inactivity",
                    severity=Severity.P2,
                    code="inactivity",
                    values={
                        "silent_s": round(now - since),
                        "since": self.clock.hhmm(since),
                        "expected": round(float(expected[j])),
                    },
                    ts=now,
                    episode=f"{since:.0f}",
                    data={
                        "silent_s": round(now - since),
                        "expected_events": round(float(expected[j]), 1),
                    },
                )
            )
        return out

    def _night_bed(self, now: float) -> list[Finding]:
        r = self.registry
        out_since = self.out_of_bed[: r.n_devices]
        devs = np.flatnonzero(np.isfinite(out_since))
        if len(devs) == 0:
            return []
        home = r.home[devs]
        quiet_since = np.fmax(
            out_since[devs],
            np.where(home >= 0, np.fmax(self.last_motion[home], self.last_door[home]), -np.inf),
        )
        limit = np.where(home >= 0, r.bed_exit_s[home], 1800.0).astype(np.float64)
        night = self.clock.is_night(quiet_since)
        self.out_of_bed[devs[~night]] = np.nan  # up and about by day: not a night exit
        due = (now - quiet_since >= limit) & night
        out: list[Finding] = []
        for j in np.flatnonzero(due):
            d = int(devs[j])
            left = float(out_since[d])
            self.out_of_bed[d] = np.nan  # one alert per time out of bed
            out.append(
                finding(
                    device_id=r.device_ids[d],
                    rule="night_bed_exit",
                    severity=Severity.P1,
                    code="night_bed_exit",
                    values={
                        "left": self.clock.hhmm(left),
                        "quiet_s": round(now - float(quiet_since[j])),
                    },
                    ts=now,
                    episode=f"{left:.0f}",
                )
            )
        return out

    def _night_door(self, now: float) -> list[Finding]:
        r = self.registry
        opened = self.door_open[: r.n_devices]
        devs = np.flatnonzero(np.isfinite(opened))
        if len(devs) == 0:
            return []
        home = r.home[devs]
        limit = np.where(home >= 0, r.door_open_s[home], 600.0).astype(np.float64)
        since = opened[devs]
        # open for the whole of the last `limit` seconds, all of them at night (a door
        # left open in the evening counts from the moment night begins)
        due = (now - since >= limit) & self.clock.is_night(now) & self.clock.is_night(now - limit)
        out: list[Finding] = []
        for j in np.flatnonzero(due):
            d = int(devs[j])
            self.door_open[d] = np.nan
            out.append(
                finding(
                    device_id=r.device_ids[d],
                    rule="night_door_open",
                    severity=Severity.P1,
                    code="night_door_open",
                    values={
                        "open_s": round(now - float(since[j])),
                        "since": self.clock.hhmm(float(since[j])),
                    },
                    ts=now,
                    episode=f"{float(since[j]):.0f}",
                )
            )
        return out
