"""What to send to an incident: the needs of what happened, the nearest point that
can meet them now, and what to do when none can inside the circle."""

from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from dispatch.models import Capability as C
from dispatch.network import network_at
from dispatch.routing import Router, mask
from dispatch.travel import GreatCircle, Matrix

# what each kind of alert needs from a point; any one of them will do
NEEDS: dict[str, list[C]] = {
    "sos": [C.EMERGENCY, C.NURSING],
    "fall": [C.EMERGENCY, C.NURSING],
    "smoke": [C.EMERGENCY],
    "gas": [C.EMERGENCY],
    "carbon_monoxide": [C.EMERGENCY],
    "alarm": [C.EMERGENCY, C.NURSING],
    "water_leak": [C.EMERGENCY, C.CLEANING],
    "vitals_news2": [C.MEDICAL, C.NURSING, C.EMERGENCY],
    "vitals_absolute": [C.MEDICAL, C.NURSING],
    "vitals_baseline": [C.MEDICAL, C.NURSING],
    "inactivity": [C.EMERGENCY, C.NURSING],
    "night_bed_exit": [C.EMERGENCY, C.NURSING],
    "night_door_open": [C.EMERGENCY, C.NURSING],
    "geofence_night": [C.EMERGENCY, C.ESCORT],
}


@dataclass(frozen=True)
class DispatchPolicy:
    circle_min: float = 15.0
    travel: GreatCircle = field(default_factory=GreatCircle)
    # a routing engine's measured minutes, where it has them
    matrix: Matrix | None = None


def needs_of(rules: Iterable[str]) -> list[C]:
    """What any of the incident's alerts needs (device faults need no visit)."""
    return list(dict.fromkeys(c for rule in rules for c in NEEDS.get(rule, [])))


async def router_at(
    *, conn: AsyncConnection, at: datetime, load: Mapping[str, int], policy: DispatchPolicy
) -> Router:
    """A router over the network as it stands at `at` (local time)."""
    return Router(
        await network_at(conn=conn, at=at, load=load),
        travel=policy.travel,
        matrix=policy.matrix,
        circle_min=policy.circle_min,
    )


async def suggest(
    *,
    conn: AsyncConnection,
    lat: float,
    lon: float,
    rules: Iterable[str],
    at: datetime,
    load: Mapping[str, int],
    policy: DispatchPolicy,
    resident_id: str | None = None,
    refused: Collection[str] = (),
) -> dict[str, Any]:
    """The chosen point, every nearer point with why it was skipped, and, with none
    inside the circle, the best option outside it for the supervisor."""
    needs = needs_of(rules)
    if not needs:
        return {"needs": [], "best": None, "considered": [], "outside": None,
                "circle_min": policy.circle_min}  # fmt: skip
    router = await router_at(conn=conn, at=at, load=load, policy=policy)
    ranking = router.rank(lat, lon, mask(needs), resident_id=resident_id, refused=refused)
    return {
        "needs": [str(c) for c in needs],
        "best": asdict(ranking.best) if ranking.best else None,
        "considered": [asdict(c) for c in ranking.considered],
        "outside": asdict(ranking.outside) if ranking.outside else None,
        "circle_min": policy.circle_min,
    }
