"""NEWS2 sub-scores follow the RCP 2017 chart at every band edge."""

import numpy as np
import pytest

from alerts.detect.news2 import subscores
from alerts.detect.observations import HR, METRICS, RR, SBP, SPO2, TEMP


def score(metric: int, value: float, *, scale2: bool = False) -> int:
    row = np.full((1, len(METRICS)), np.nan, np.float32)
    row[0, metric] = value
    return int(subscores(row, np.array([scale2]))[0, metric])


@pytest.mark.parametrize(
    ("metric", "value", "expected"),
    [
        (RR, 8, 3),
        (RR, 9, 1),
        (RR, 11, 1),
        (RR, 12, 0),
        (RR, 20, 0),
        (RR, 21, 2),
        (RR, 24, 2),
        (RR, 25, 3),
        (SPO2, 91, 3),
        (SPO2, 92, 2),
        (SPO2, 93, 2),
        (SPO2, 94, 1),
        (SPO2, 95, 1),
        (SPO2, 96, 0),
        (SBP, 90, 3),
        (SBP, 91, 2),
        (SBP, 100, 2),
        (SBP, 101, 1),
        (SBP, 110, 1),
        (SBP, 111, 0),
        (SBP, 219, 0),
        (SBP, 220, 3),
        (HR, 40, 3),
        (HR, 41, 1),
        (HR, 50, 1),
        (HR, 51, 0),
        (HR, 90, 0),
        (HR, 91, 1),
        (HR, 110, 1),
        (HR, 111, 2),
        (HR, 130, 2),
        (HR, 131, 3),
        (TEMP, 35.0, 3),
        (TEMP, 35.1, 1),
        (TEMP, 36.0, 1),
        (TEMP, 36.1, 0),
        (TEMP, 38.0, 0),
        (TEMP, 38.1, 1),
        (TEMP, 39.0, 1),
        (TEMP, 39.1, 2),
    ],
)
def test_band_edges_score_as_the_chart(metric: int, value: float, expected: int) -> None:
    assert score(metric, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(83, 3), (84, 2), (85, 2), (86, 1), (87, 1), (88, 0), (97, 0)]
)
def test_scale_2_scores_hypercapnic_targets_on_air(value: float, expected: int) -> None:
    assert score(SPO2, value, scale2=True) == expected


def test_a_missing_value_scores_nothing() -> None:
    assert score(HR, np.nan) == 0
