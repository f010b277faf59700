"""Fixed thresholds that hold from a newly enrolled resident's first reading, before
any personal baseline: a hypertensive crisis and a fever are not left to day two."""

from alerts.detect.engine import Engine
from alerts.models import Finding, Severity
from tests.alerts.detect_helpers import engine, findings, local, vitals


def readings(e: Engine, start: float, every_s: float, n: int, **values: float) -> list[Finding]:
    out: list[Finding] = []
    for i in range(n):
        out += findings(e.observe(vitals(e, start + i * every_s, **values)), "vitals_absolute")
    return out


def test_a_new_residents_high_fever_raises_p2_from_the_first_readings() -> None:
    e = engine()  # no warm-up: nothing learned yet
    out = readings(e, local(10), 60, 3, temp=39.4)
    assert [f.severity for f in out] == [Severity.P2]
    assert out[0].reason.startswith("temperature 39.4 °C (high fever, >= 39.0) for 2 readings")


def test_a_new_residents_hypertensive_crisis_raises_p2() -> None:
    e = engine()
    out = readings(e, local(10), 300, 3, sbp=192)
    assert [f.severity for f in out] == [Severity.P2]
    assert "systolic BP 192 mmHg (hypertensive crisis, >= 180)" in out[0].reason


def test_a_lasting_low_fever_raises_one_p3() -> None:
    e = engine()
    out = readings(e, local(10), 60, 60, temp=37.9)
    assert [f.severity for f in out] == [Severity.P3]
    assert "fever, >= 37.8" in out[0].reason


def test_readings_seconds_apart_must_also_last_a_minute() -> None:
    e = engine()
    # a demo-paced device (a reading every 6 s): two readings are not persistence
    assert readings(e, local(10), 6, 10, sbp=195) == []
    assert len(readings(e, local(10) + 60, 6, 2, sbp=195)) == 1


def test_a_pressure_hovering_at_180_stays_one_alert() -> None:
    e = engine()
    out = []
    for i in range(240):  # four hours around 178 / 182
        out += readings(e, local(8) + 60 * i, 60, 1, sbp=178 + 4 * ((i // 3) % 2))
    assert len(out) == 1
