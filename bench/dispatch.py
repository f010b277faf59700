"""Routing among a city's worth of service points, in process (no database):

- `route_median_us`: one incident routed among 10,000 points (target <= 100 us);
- `assign_1000_s`: 1,000 simultaneous incidents assigned jointly (target <= 1 s);
- `joint_total_min` beside `greedy_total_min` for that surge, and how many each served.

The points and incidents are laid out like Wuhan's: points denser in the centre,
incidents where residents live. `python -m bench.dispatch [--points N] [--surge N]`
"""

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np

from dispatch.models import Capability
from dispatch.routing import Network, Router, mask
from dispatch.surge import Incident, assign_greedily, assign_jointly

WUHAN = (30.5928, 114.3055)
NEEDS = mask([Capability.EMERGENCY, Capability.NURSING])


def city(points: int, rng: np.random.Generator) -> Network:
    """Points around the centre (sd about 9 km); a third can do emergencies, most are
    open now, with one to three free slots."""
    lat = WUHAN[0] + rng.normal(0, 0.08, points)
    lon = WUHAN[1] + rng.normal(0, 0.09, points)
    caps = [
        [Capability.EMERGENCY, Capability.NURSING] if rng.random() < 0.35 else [Capability.MEAL]
        for _ in range(points)
    ]
    capacity = rng.integers(1, 4, points)
    return Network(
        ids=[f"sp{k}" for k in range(points)],
        lat=lat,
        lon=lon,
        caps=np.array([mask(c) for c in caps], np.int64),
        capacity=capacity,
        load=np.zeros(points, np.int64),
        open_now=rng.random(points) < 0.85,
        staff_on_shift=capacity.copy(),
    )


def incidents(n: int, rng: np.random.Generator) -> list[Incident]:
    lat = WUHAN[0] + rng.normal(0, 0.07, n)
    lon = WUHAN[1] + rng.normal(0, 0.08, n)
    return [Incident(float(a), float(o), NEEDS) for a, o in zip(lat, lon, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--routes", type=int, default=2_000)
    parser.add_argument("--surge", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    router = Router(city(args.points, rng))

    singles = incidents(args.routes, rng)
    router.rank(singles[0].lat, singles[0].lon, NEEDS)  # warm up
    us = []
    for inc in singles:
        started = time.perf_counter()
        router.rank(inc.lat, inc.lon, inc.needs)
        us.append((time.perf_counter() - started) * 1e6)

    # the floor in the same run: the k-d tree's own query for the same incidents
    from scipy.spatial import cKDTree

    from dispatch.travel import unit_vectors

    tree = cKDTree(unit_vectors(router.network.lat, router.network.lon))
    floor = []
    for inc in singles:
        started = time.perf_counter()
        tree.query(unit_vectors(np.array([inc.lat]), np.array([inc.lon]))[0], k=16)
        floor.append((time.perf_counter() - started) * 1e6)

    surge = incidents(args.surge, rng)
    started = time.perf_counter()
    joint = assign_jointly(router, surge)
    joint_s = time.perf_counter() - started
    started = time.perf_counter()
    greedy = assign_greedily(router, surge)
    greedy_s = time.perf_counter() - started

    print(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "points": args.points,
                "route_median_us": round(statistics.median(us), 1),
                "route_p99_us": round(statistics.quantiles(us, n=100)[98], 1),
                "route_target_us": 100,
                "tree_query_median_us": round(statistics.median(floor), 1),
                "surge_incidents": args.surge,
                "assign_1000_s": round(joint_s, 3),
                "assign_target_s": 1.0,
                "joint_total_min": round(joint.total_minutes, 1),
                "joint_served": joint.assigned,
                "greedy_total_min": round(greedy.total_minutes, 1),
                "greedy_served": greedy.assigned,
                "greedy_s": round(greedy_s, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
