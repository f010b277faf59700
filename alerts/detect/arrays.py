"""Growing NumPy state as devices are registered."""

from typing import Any

import numpy as np
from numpy.typing import NDArray


def grown(arr: NDArray[Any], n: int, fill: float | int | bool) -> NDArray[Any]:
    """`arr` with its first axis at least `n` long, new rows set to `fill`."""
    if arr.shape[0] >= n:
        return arr
    extra = np.full((n - arr.shape[0], *arr.shape[1:]), fill, dtype=arr.dtype)
    return np.concatenate([arr, extra])


def capacity_for(n: int) -> int:
    """Grow in doublings so registering devices one by one stays cheap."""
    cap = 1024
    while cap < n:
        cap *= 2
    return cap


def nbytes(*arrays: NDArray[Any]) -> int:
    return sum(a.nbytes for a in arrays)
