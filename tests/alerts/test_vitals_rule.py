"""Vital signs: NEWS2 with persistence and hysteresis, and personal baselines."""

from alerts.detect.config import Overrides
from alerts.models import Severity
from tests.alerts.detect_helpers import engine, findings, local, vitals, warm_up


def test_low_spo2_for_two_readings_raises_p2_with_a_readable_reason() -> None:
    e = engine()
    ts = warm_up(e, local(10), 150)
    assert not e.observe(vitals(e, ts, spo2=88))
    assert not e.observe(vitals(e, ts + 60, spo2=88))  # median of 97, 88, 88 -> 88: run 1
    out = findings(e.observe(vitals(e, ts + 120, spo2=88)), "vitals_news2")
    assert [f.severity for f in out] == [Severity.P2]
    assert out[0].reason.startswith("NEWS2 3: SpO2 88% (3) for 2 readings")
    assert "baseline SpO2 97%" in out[0].reason


def test_one_artefact_never_pages_anyone() -> None:
    e = engine()
    ts = warm_up(e, local(10), 150)
    for value in ({"spo2": 82}, {"hr": 150}, {"temp": 34.6}):
        assert not e.observe(vitals(e, ts, **value))
        ts = warm_up(e, ts + 60, 5)


def test_a_total_of_seven_raises_p1() -> None:
    e = engine()
    ts = warm_up(e, local(10), 150)
    sick = {"spo2": 90, "rr": 26, "hr": 118}  # 3 + 3 + 2
    out = []
    for i in range(4):
        out += findings(e.observe(vitals(e, ts + 60 * i, **sick)), "vitals_news2")
    assert [f.severity for f in out] == [Severity.P1]


def test_a_condition_hovering_at_the_threshold_stays_one_alert() -> None:
    e = engine()
    ts = warm_up(e, local(10), 150)
    out = []
    for i in range(120):  # two hours around SpO2 91/92: 3 and 2 in turn
        out += findings(e.observe(vitals(e, ts + 60 * i, spo2=91 + (i // 3) % 2)), "vitals_news2")
    assert len(out) == 1


def test_after_clearing_for_half_an_hour_a_new_episode_pages_again() -> None:
    e = engine()
    ts = warm_up(e, local(10), 150)
    first = [f for i in range(5) for f in findings(e.observe(vitals(e, ts + 60 * i, spo2=88)))]
    ts = warm_up(e, ts + 300, 40)
    second = [f for i in range(5) for f in findings(e.observe(vitals(e, ts + 60 * i, spo2=88)))]
    assert len([f for f in first if f.rule == "vitals_news2"]) == 1
    assert len([f for f in second if f.rule == "vitals_news2"]) == 1


def test_hypercapnic_resident_at_their_usual_89_percent_is_not_alerted() -> None:
    e = engine(flags=frozenset({"hypercapnic"}))
    warm_up(e, local(10), 200, spo2=89)


def test_override_can_set_scale_2_without_the_flag() -> None:
    e = engine(overrides=Overrides(spo2_scale=2))
    warm_up(e, local(10), 200, spo2=89)


def test_a_resting_pulse_of_52_is_not_treated_like_one_of_85() -> None:
    slow, usual = engine(), engine()
    ts = warm_up(slow, local(10), 200, hr=52)
    warm_up(usual, local(10), 200, hr=85)
    out = []
    for i in range(5):  # 85/min: ordinary for one, a departure for the other
        out += findings(slow.observe(vitals(slow, ts + 60 * i, hr=85)), "vitals_baseline")
        assert not usual.observe(vitals(usual, ts + 60 * i, hr=85))
    assert len(out) == 1
    assert "personal baseline 52/min" in out[0].reason
    assert out[0].severity is Severity.P3
