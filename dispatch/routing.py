"""The nearest service point that can help now: open, with a free on-call person,
the capability the incident needs, under its capacity, inside the service circle.

The points sit in a k-d tree over unit vectors (SciPy cKDTree), so finding the
nearest few among ten thousand is a tree query, not a scan; eligibility is then a
handful of array masks over those few. Every candidate considered comes back with
why it was skipped, for the incident's timeline.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from dispatch.models import Capability
from dispatch.travel import GreatCircle, Matrix, km_for_chord, unit_vectors

BIT = {cap: 1 << k for k, cap in enumerate(Capability)}


def mask(caps: Iterable[Capability | str]) -> int:
    return int(sum(BIT[Capability(c)] for c in set(caps)))


class Skip(StrEnum):
    REFUSED = "declined_before"  # it declined this incident, or let it wait too long
    CLOSED = "closed"
    NO_STAFF = "no_free_staff"
    FULL = "at_capacity"
    LACKS = "lacks_capability"
    OUTSIDE = "outside_circle"


@dataclass
class Network:
    """The points as arrays, with what each can do and take at one moment."""

    ids: list[str]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    caps: NDArray[np.int64]  # bit mask of Capability
    capacity: NDArray[np.int64]
    load: NDArray[np.int64]  # incidents it has dispatched or on scene now
    open_now: NDArray[np.bool_]
    staff_on_shift: NDArray[np.int64]  # on-call people on shift now

    @property
    def free(self) -> NDArray[np.int64]:
        """How many more incidents each point can take now: its capacity and its free
        people, whichever is smaller."""
        slots = np.minimum(self.capacity - self.load, self.staff_on_shift - self.load)
        return np.where(self.open_now, np.maximum(slots, 0), 0)


@dataclass(frozen=True)
class Candidate:
    point_id: str
    minutes: float
    skipped: Skip | None  # None: eligible and inside the circle


@dataclass(frozen=True)
class Ranking:
    """The chosen point (if any inside the circle), every point considered, nearest
    first, and the nearest eligible one outside the circle when none is inside."""

    best: Candidate | None
    considered: list[Candidate]
    outside: Candidate | None


class Router:
    def __init__(
        self,
        network: Network,
        *,
        travel: GreatCircle | None = None,
        matrix: Matrix | None = None,
        circle_min: float = 15.0,
    ) -> None:
        self.network = network
        self.travel = travel or GreatCircle()
        self.matrix = matrix
        self.circle_min = circle_min
        self._tree = cKDTree(unit_vectors(network.lat, network.lon).reshape(-1, 3))
        self._index = {point: i for i, point in enumerate(network.ids)}

    def indices(self, ids: Collection[str]) -> NDArray[np.intp]:
        return np.array([self._index[p] for p in ids if p in self._index], np.intp)

    def rank(
        self,
        lat: float,
        lon: float,
        needs: int,
        *,
        resident_id: str | None = None,
        refused: Collection[str] = (),
        k: int = 16,
    ) -> Ranking:
        """`needs`: a mask of capabilities, any of which will do (a fall: emergency or
        nursing); `refused`: points not to ask again. Widens the search until an
        eligible point turns up or the nearest not yet looked at is beyond the circle."""
        return self._ranking(*self._nearest(lat, lon, needs, resident_id, refused, k))

    def options(
        self, lat: float, lon: float, needs: int, *, refused: Collection[str] = (), k: int = 16
    ) -> dict[int, float]:
        """Every eligible point inside the circle among the nearest `k` (widened as in
        `rank`): network index -> minutes. For assigning many incidents at once."""
        index, minutes, why = self._nearest(lat, lon, needs, None, refused, k)
        ok = why == 0
        return dict(zip(index[ok].tolist(), minutes[ok].round(1).tolist(), strict=True))

    def _nearest(
        self,
        lat: float,
        lon: float,
        needs: int,
        resident_id: str | None,
        refused: Collection[str],
        k: int,
    ) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.int8]]:
        n = len(self.network.ids)
        if n == 0:
            nothing = np.zeros(0, np.intp)
            return nothing, np.zeros(0, np.float64), np.zeros(0, np.int8)
        origin = unit_vectors(np.array([lat]), np.array([lon]))[0]
        k = min(k, n)
        while True:
            chord, index = self._tree.query(origin, k=k)
            chord, index = np.atleast_1d(chord), np.atleast_1d(index)
            minutes = self.travel.minutes_for_km(km_for_chord(chord))
            if self.matrix is not None and resident_id is not None:
                ids = [self.network.ids[i] for i in index]
                minutes = self.matrix.override(ids, resident_id, minutes)
            why = self._why_not(index, minutes, needs, self.indices(refused))
            found = (why == 0).any()
            if found or k == n or minutes.min() > self.circle_min * 2:
                break
            k = min(k * 4, n)
        return index, minutes, why

    def _why_not(
        self,
        index: NDArray[np.intp],
        minutes: NDArray[np.float64],
        needs: int,
        refused: NDArray[np.intp],
    ) -> NDArray[np.int8]:
        """Per candidate: 0 if eligible inside the circle, else the first reason (in the
        order of Skip) it is not; -1 eligible but outside the circle."""
        net = self.network
        reasons = np.zeros(len(index), np.int8)
        checks = [
            np.isin(index, refused),
            ~net.open_now[index],
            net.staff_on_shift[index] <= net.load[index],
            net.load[index] >= net.capacity[index],
            (net.caps[index] & needs) == 0,
        ]
        for code, failed in reversed(list(enumerate(checks, start=1))):
            reasons[failed] = code
        reasons[(reasons == 0) & (minutes > self.circle_min)] = -1
        return reasons

    def _ranking(
        self, index: NDArray[np.intp], minutes: NDArray[np.float64], why: NDArray[np.int8]
    ) -> Ranking:
        """Candidates nearest first, up to the chosen one (or, with none inside the
        circle, up to the nearest eligible outside it): the rest were not needed."""
        skips = [None, *Skip]
        considered = []
        for j in np.argsort(minutes, kind="stable"):
            reason = int(why[j])
            considered.append(
                Candidate(
                    self.network.ids[index[j]],
                    round(float(minutes[j]), 1),
                    Skip.OUTSIDE if reason == -1 else skips[reason],
                )
            )
            if reason == 0:
                return Ranking(considered[-1], considered, None)
            if reason == -1:
                return Ranking(None, considered, considered[-1])
        return Ranking(None, considered, None)
