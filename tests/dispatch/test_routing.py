"""The nearest point that can help now, and why each nearer one could not; a surge
assigned jointly against greedily."""

from pathlib import Path

import numpy as np
import pytest

from dispatch.models import Capability
from dispatch.routing import Network, Router, Skip, mask
from dispatch.surge import Incident, assign_greedily, assign_jointly
from dispatch.travel import GreatCircle, Matrix
from kernel.errors import Invalid

HOME = (30.600, 114.300)  # a resident in Jiang'an
EMERGENCY = mask([Capability.EMERGENCY, Capability.NURSING])  # what a fall needs


def network(points: list[dict[str, object]]) -> Network:
    """Points east of HOME, `km` away along the parallel."""
    n = len(points)

    def col(key: str, default: object) -> list[object]:
        return [p.get(key, default) for p in points]

    km = np.array(col("km", 1.0), float)
    return Network(
        ids=[str(p["id"]) for p in points],
        lat=np.full(n, HOME[0]),
        lon=HOME[1] + km / (111.32 * np.cos(np.radians(HOME[0]))),
        caps=np.array([mask(c) for c in col("caps", ["emergency"])], np.int64),  # type: ignore[arg-type]
        capacity=np.array(col("capacity", 2), np.int64),
        load=np.array(col("load", 0), np.int64),
        open_now=np.array(col("open", True), bool),
        staff_on_shift=np.array(col("staff", 2), np.int64),
    )


def test_the_nearest_point_that_can_help_now_is_chosen_and_each_nearer_one_says_why_not() -> None:
    router = Router(
        network(
            [
                {"id": "closed", "km": 0.3, "open": False},
                {"id": "nobody", "km": 0.5, "staff": 0},
                {"id": "full", "km": 0.7, "capacity": 1, "load": 1},
                {"id": "meals-only", "km": 0.9, "caps": ["meal"]},
                {"id": "good", "km": 1.5},
                {"id": "farther", "km": 2.5},
            ]
        )
    )
    ranking = router.rank(*HOME, EMERGENCY)
    assert ranking.best is not None
    assert ranking.best.point_id == "good"
    # 1.5 km x 1.4 detour at 15 km/h
    assert ranking.best.minutes == pytest.approx(8.4, abs=0.1)
    why = {c.point_id: c.skipped for c in ranking.considered}
    assert why == {
        "closed": Skip.CLOSED,
        "nobody": Skip.NO_STAFF,
        "full": Skip.FULL,
        "meals-only": Skip.LACKS,
        "good": None,
    }  # "farther" is not needed once "good" is found
    assert ranking.outside is None


def test_nothing_inside_the_circle_gives_the_best_option_outside_it() -> None:
    router = Router(network([{"id": "near-closed", "km": 1, "open": False},
                             {"id": "far", "km": 4}]))  # fmt: skip
    ranking = router.rank(*HOME, EMERGENCY)
    assert ranking.best is None
    assert ranking.outside is not None
    assert ranking.outside.point_id == "far"
    assert ranking.outside.minutes == pytest.approx(22.4, abs=0.1)  # beyond 15 min


def test_the_search_widens_past_the_nearest_few_until_one_can_help() -> None:
    points = [{"id": f"closed-{k}", "km": 0.1 + k * 0.05, "open": False} for k in range(40)]
    router = Router(network([*points, {"id": "open", "km": 2.6}]))
    ranking = router.rank(*HOME, EMERGENCY, k=4)
    assert ranking.best is not None
    assert ranking.best.point_id == "open"


def test_a_measured_travel_time_replaces_the_estimate() -> None:
    matrix = Matrix(minutes={("near", "r1"): 19.0})  # a river between them
    router = Router(network([{"id": "near", "km": 0.5}, {"id": "bridge", "km": 2.0}]),
                    matrix=matrix)  # fmt: skip
    ranking = router.rank(*HOME, EMERGENCY, resident_id="r1")
    assert ranking.best is not None
    assert ranking.best.point_id == "bridge"
    assert ranking.best.minutes == pytest.approx(11.2, abs=0.1)  # nearer than 19


def test_a_surge_assigned_jointly_beats_first_come_first_served() -> None:
    """Two incidents, two points of one slot each. The first incident is a little nearer
    to A; the second can reach only A. Greedy gives A to the first and leaves the
    second without; jointly, the first goes to B and both are served."""
    lon_per_km = 1 / (111.32 * np.cos(np.radians(HOME[0])))
    net = Network(
        ids=["A", "B"],
        lat=np.array([HOME[0], HOME[0]]),
        lon=np.array([HOME[1], HOME[1] + 1.0 * lon_per_km]),
        caps=np.array([EMERGENCY, EMERGENCY], np.int64),
        capacity=np.array([1, 1], np.int64),
        load=np.array([0, 0], np.int64),
        open_now=np.array([True, True]),
        staff_on_shift=np.array([1, 1], np.int64),
    )
    router = Router(net, travel=GreatCircle(), circle_min=15)
    first = Incident(HOME[0], HOME[1] + 0.4 * lon_per_km, EMERGENCY)  # 0.4 km from A
    second = Incident(HOME[0], HOME[1] - 2.0 * lon_per_km, EMERGENCY)  # A 11 min, B 17
    greedy = assign_greedily(router, [first, second])
    joint = assign_jointly(router, [first, second])
    assert greedy.points == [0, None]
    assert joint.points == [1, 0]
    assert joint.assigned == 2


def test_a_travel_matrix_file_is_read_or_refused_in_one_line(tmp_path: Path) -> None:
    good = tmp_path / "matrix.csv"
    good.write_text("point_id,resident_id,minutes\nsp1,r1,12.5\nsp2,r1,7\n")
    assert Matrix.load(good).minutes == {("sp1", "r1"): 12.5, ("sp2", "r1"): 7.0}
    bad = tmp_path / "bad.csv"
    bad.write_text("point_id,resident_id,minutes\nsp1,r1,soon\n")
    with pytest.raises(Invalid, match=r"bad.csv:2: expected point_id, resident_id, minutes"):
        Matrix.load(bad)
    with pytest.raises(Invalid, match="travel matrix: cannot read"):
        Matrix.load(tmp_path / "missing.csv")
