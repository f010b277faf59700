"""Fixed thresholds that hold from a resident's first reading, before any baseline.

A newly enrolled resident has no personal baseline for `baseline_warm_readings`
readings (10 to 20 hours at a real watch's interval), and NEWS2 scores neither a
systolic pressure below 220 mmHg nor a fever on its own. These rules close that gap:

- **Hypertensive crisis**: systolic >= 180 mmHg, P2. ACC/AHA 2017 guideline for
  high blood pressure in adults (Whelton et al., Hypertension 2018;71:e13-e115,
  section 11.2: "SBP >180 and/or DBP >120"); the Chinese guidelines for the prevention
  and treatment of hypertension, 2018 revision (中国高血压防治指南 2018, 高血压急症
  和亚急症: SBP >= 180 and/or DBP >= 120). Diastolic pressure is not among the
  detector's metrics, so only the systolic half applies.
- **High fever**: >= 39.0 °C, P2; where NEWS2 starts its highest temperature score
  (39.1 and above, Royal College of Physicians 2017).
- **Fever**: >= 37.8 °C, P3. The IDSA definition of fever in older adults in
  long-term care (High et al., Clin Infect Dis 2009;48:149-171): a single oral
  temperature > 37.8 °C; older people often mount a smaller rise.

Each reads the median of the last three values and must hold for two readings and
`persist_s` seconds, like NEWS2; it clears with a margin (170 mmHg, 38.5 and 37.5 °C),
so a value hovering at a threshold stays one alert.
"""

import numpy as np
from numpy.typing import NDArray

from alerts.detect.episodes import Episodes
from alerts.detect.findings import finding
from alerts.detect.observations import SBP, TEMP
from alerts.models import Finding, Severity

HYPERTENSIVE_CRISIS_SBP = 180.0
HIGH_FEVER_C = 39.0
FEVER_C = 37.8


class AbsoluteRules:
    def __init__(self, *, k: int, clear_s: float, persist_s: float) -> None:
        self.urgent = Episodes(k=k, clear_s=clear_s, min_s=persist_s)  # P2
        self.fever = Episodes(k=k, clear_s=clear_s, min_s=persist_s)  # P3

    def resize(self, n: int) -> None:
        self.urgent.resize(n)
        self.fever.resize(n)

    def state_bytes(self) -> int:
        return self.urgent.state_bytes() + self.fever.state_bytes()

    def observe(
        self,
        device_ids: list[str],
        dev: NDArray[np.int32],
        ts: NDArray[np.float64],
        fresh: NDArray[np.float32],
    ) -> list[Finding]:
        """`fresh`: per device the median of its last three values (NaN when stale)."""
        sbp, temp = fresh[:, SBP], fresh[:, TEMP]
        with np.errstate(invalid="ignore"):
            crisis = sbp >= HYPERTENSIVE_CRISIS_SBP
            high_fever = temp >= HIGH_FEVER_C
            fever = temp >= FEVER_C
            calm = ~(sbp >= HYPERTENSIVE_CRISIS_SBP - 10) & ~(temp >= HIGH_FEVER_C - 0.5)
            afebrile = ~(temp >= FEVER_C - 0.3)
        urgent = self.urgent.step(dev, ts, crisis | high_fever, calm)
        # a fever that is urgent already is not reported a second time at P3
        mild = self.fever.step(dev, ts, fever & ~high_fever, afebrile) & ~self.urgent.active[dev]
        out = []
        for j in np.flatnonzero(urgent | mild):
            d = int(dev[j])
            episodes = self.urgent if urgent[j] else self.fever
            since = float(episodes.since[d])
            out.append(
                finding(
                    device_id=device_ids[d],
                    rule="vitals_absolute",
                    severity=Severity.P2 if urgent[j] else Severity.P3,
                    code="vitals_absolute",
                    values={
                        "sbp": _or_none(sbp[j]),
                        "temp": _or_none(temp[j]),
                        "crisis": bool(crisis[j] and urgent[j]),
                        "fever": ("high" if high_fever[j] else "mild") if fever[j] else None,
                        "readings": int(episodes.run[d]),
                        "over_s": round(float(ts[j]) - since),
                    },
                    ts=float(ts[j]),
                    episode=f"{since:.0f}:{'P2' if urgent[j] else 'P3'}",
                    data={"sbp": _or_none(sbp[j]), "temp": _or_none(temp[j])},
                )
            )
        return out


def _or_none(value: np.float32) -> float | None:
    return None if np.isnan(value) else round(float(value), 1)
