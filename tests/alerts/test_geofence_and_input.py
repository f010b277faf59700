"""Wandering at night, and bad input that must neither crash nor alert."""

import numpy as np

from alerts.detect import Observations
from alerts.detect.observations import Vitals
from alerts.models import Severity
from tests.alerts.detect_helpers import engine, findings, local, location, vitals, warm_up

HOME = (30.59, 114.30)
KM_NORTH = 1 / 111.32  # degrees of latitude in a kilometre


def test_dementia_resident_outside_the_home_zone_at_night_raises_p2() -> None:
    e = engine(flags=frozenset({"dementia"}), home=HOME)
    out = []
    for i, km in enumerate([0.0, 0.4, 0.6, 0.8]):
        out += findings(
            e.observe(location(e, local(2) + 300 * i, HOME[0] + km * KM_NORTH, HOME[1]))
        )
    (f,) = out
    assert f.rule == "geofence_night"
    assert f.severity is Severity.P2
    assert f.reason.startswith("599 m from home at 02:10, outside the 200 m home zone")


def test_the_same_walk_by_day_or_without_dementia_raises_nothing() -> None:
    by_day = engine(flags=frozenset({"dementia"}), home=HOME)
    no_flag = engine(home=HOME)
    for e, hour in ((by_day, 14), (no_flag, 2)):
        for i, km in enumerate([0.4, 0.6, 0.8]):
            assert not e.observe(
                location(e, local(hour) + 300 * i, HOME[0] + km * KM_NORTH, HOME[1])
            )


def test_an_inaccurate_fix_does_not_count_as_outside() -> None:
    e = engine(flags=frozenset({"dementia"}), home=HOME)
    for i in range(4):  # a GPS jump of 500 m with 500 m accuracy
        assert not e.observe(
            location(e, local(2) + 60 * i, HOME[0] + 0.5 * KM_NORTH, HOME[1], acc=500)
        )


def test_bad_values_and_late_readings_are_counted_and_skipped_without_alerts() -> None:
    e = engine()
    ts = warm_up(e, local(10), 150)
    nan, inf = float("nan"), float("inf")
    for i, bad in enumerate([{"hr": nan}, {"hr": inf}, {"hr": -5}, {"spo2": 101}, {"temp": 0}] * 3):
        assert not e.observe(vitals(e, ts + 60 * i, **bad))
    late = ts - 600
    assert not e.observe(vitals(e, late, spo2=70))
    # NaN is how a batch says "not measured", so only the 12 impossible values count
    # here; ingest dead-letters NaN payloads before they reach the detector.
    assert e.skipped == {"invalid_value": 12, "out_of_order": 1}


def test_unknown_devices_and_broken_timestamps_are_counted() -> None:
    e = engine()
    batch = Observations(
        vitals=Vitals(
            np.array([-1, 0], np.int32),
            np.array([local(10), np.nan]),
            np.full((2, 5), 80, np.float32),
            np.full(2, np.nan, np.float32),
        )
    )
    assert e.observe(batch) == []
    assert e.skipped == {"unknown_device": 1, "bad_timestamp": 1}
