"""NEWS2 sub-scores, as the Royal College of Physicians' 2017 chart bands them.

Each band table is (upper edges, scores): a value scores `scores[i]` for the first
edge it does not exceed. Consciousness and supplemental oxygen are not measured by a
wearable, so they score 0; SpO2 scale 2 assumes air (88-92% and above score 0 on air).
"""

import numpy as np
from numpy.typing import NDArray

from alerts.detect.observations import HR, METRICS, RR, SBP, SPO2, TEMP

Bands = tuple[tuple[float, ...], tuple[int, ...]]

BANDS: dict[int, Bands] = {
    RR: ((8, 11, 20, 24, np.inf), (3, 1, 0, 2, 3)),
    SPO2: ((91, 93, 95, np.inf), (3, 2, 1, 0)),
    SBP: ((90, 100, 110, 219, np.inf), (3, 2, 1, 0, 3)),
    HR: ((40, 50, 90, 110, 130, np.inf), (3, 1, 0, 1, 2, 3)),
    TEMP: ((35.0, 36.0, 38.0, 39.0, np.inf), (3, 1, 0, 1, 2)),
}
SPO2_SCALE2: Bands = ((83, 85, 87, np.inf), (3, 2, 1, 0))


def _band(values: NDArray[np.float32], bands: Bands) -> NDArray[np.int8]:
    edges, scores = bands
    # Readings carry one decimal at most; a small epsilon keeps 35.0 in the <=35.0 band
    # despite float32 rounding.
    i = np.searchsorted(np.asarray(edges, np.float32), values - np.float32(1e-4))
    score = np.asarray(scores, np.int8)[np.minimum(i, len(scores) - 1)]
    return np.where(np.isnan(values), 0, score).astype(np.int8)


def subscores(values: NDArray[np.float32], scale2: NDArray[np.bool_]) -> NDArray[np.int8]:
    """Per row and metric (columns as `METRICS`), the NEWS2 sub-score; NaN scores 0."""
    out = np.zeros(values.shape, np.int8)
    for m, bands in BANDS.items():
        out[:, m] = _band(values[:, m], bands)
    out[:, SPO2] = np.where(scale2, _band(values[:, SPO2], SPO2_SCALE2), out[:, SPO2])
    return out


assert set(BANDS) == set(range(len(METRICS)))
