"""Many incidents at once (a heatwave, a power cut): assign them jointly, so that the
total travel time is least within every point's free capacity, instead of letting
the first incidents take the points the later ones needed.

Each point is replicated once per free slot; each incident is joined to the slots of
the eligible points inside the circle among its nearest few, at their travel minutes,
and to a slot of its own ("nobody") at a cost above any real trip, so a full matching
always exists and an incident goes unassigned only when no point can take it. The
matching is SciPy's `min_weight_full_bipartite_matching` (LAPJVsp): the same problem
as `linear_sum_assignment` over the dense matrix, on the sparse one the few
candidates per incident make (1,000 incidents by 10,000 points' slots would be a
dense matrix of 10^7 cells, mostly impossible pairs).
"""

from dataclasses import dataclass

from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from dispatch.routing import Router


@dataclass(frozen=True)
class Incident:
    lat: float
    lon: float
    needs: int  # capability mask, any of which will do
    refused: frozenset[str] = frozenset()  # points not to ask again


@dataclass(frozen=True)
class Assignment:
    points: list[int | None]  # per incident, the point's index in the network, or none
    minutes: list[float | None]

    @property
    def total_minutes(self) -> float:
        return float(sum(m for m in self.minutes if m is not None))

    @property
    def assigned(self) -> int:
        return sum(p is not None for p in self.points)


def _options(router: Router, incidents: list[Incident], k: int) -> list[dict[int, float]]:
    """Per incident: eligible point index -> minutes, among its k nearest."""
    return [
        router.options(inc.lat, inc.lon, inc.needs, refused=inc.refused, k=k) for inc in incidents
    ]


def assign_jointly(router: Router, incidents: list[Incident], *, k: int = 16) -> Assignment:
    options = _options(router, incidents, k)
    free = router.network.free
    slots: list[int] = []  # column -> point index
    columns: dict[int, range] = {}  # point index -> its slots' columns
    wanted: dict[int, int] = {}
    for opts in options:
        for p in opts:
            wanted[p] = wanted.get(p, 0) + 1
    for p, asked in sorted(wanted.items()):
        # no point needs more slots than incidents that could use it
        copies = min(int(free[p]), asked)
        columns[p] = range(len(slots), len(slots) + copies)
        slots += [p] * copies
    n, real = len(incidents), len(slots)
    nobody = max((m for opts in options for m in opts.values()), default=0.0) * 10 + 1000
    rows, cols, cost = [], [], []
    for i, opts in enumerate(options):
        for p, trip in opts.items():
            for c in columns[p]:
                rows.append(i)
                cols.append(c)
                cost.append(trip + 1e-6)  # zero weights would vanish from the matrix
        rows.append(i)
        cols.append(real + i)
        cost.append(nobody)
    graph = csr_matrix((cost, (rows, cols)), shape=(n, real + n))
    _, matched = min_weight_full_bipartite_matching(graph)
    points: list[int | None] = []
    minutes: list[float | None] = []
    for i, c in enumerate(matched):
        if c >= real:
            points.append(None)
            minutes.append(None)
        else:
            points.append(slots[c])
            minutes.append(options[i][slots[c]])
    return Assignment(points, minutes)


def assign_greedily(router: Router, incidents: list[Incident], *, k: int = 16) -> Assignment:
    """In arrival order, each takes the nearest eligible point with a slot left: what
    routing one incident at a time does, for comparison."""
    options = _options(router, incidents, k)
    left = router.network.free.copy()
    points: list[int | None] = []
    minutes: list[float | None] = []
    for opts in options:
        choice = next((p for p, _ in sorted(opts.items(), key=lambda o: o[1]) if left[p] > 0), None)
        points.append(choice)
        minutes.append(None if choice is None else opts[choice])
        if choice is not None:
            left[choice] -= 1
    return Assignment(points, minutes)
