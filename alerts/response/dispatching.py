"""Sending an incident to a service point, and on to the next when one says no.

A point is asked (an offer, dispatch.offers) and has its own time to accept; the
incident stays `acknowledged` meanwhile and becomes `dispatched` when the point
accepts. A decline, or no answer in time, asks the next eligible point, never one
that already refused. With none inside the circle, the incident escalates to the
supervisor with the best point outside it and, for a P1, a prompt to call 120.
Several incidents routed at once (a surge) are assigned jointly.

Every decision is an audit row with the candidates considered and why each was
skipped. Callers hold the alerts lock in their transaction (alerts.audit).
"""

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from alerts import audit, notices
from alerts.policy import DEFAULT_POLICY, EscalationPolicy
from alerts.service import SYSTEM
from dispatch import offers, requests
from dispatch.choosing import DispatchPolicy, needs_of, router_at
from dispatch.links import link_key
from dispatch.notify import plan, receipts
from dispatch.routing import Router, mask
from dispatch.surge import Incident, assign_jointly

log = logging.getLogger("anxin.dispatch")

POLL_S = 0.5
BATCH = 100
# the statuses in which an incident holds its point (a waiting offer counts: the point
# keeps a person ready to go)
HOLDING = ("acknowledged", "dispatched", "on_scene")


@dataclass(frozen=True)
class Place:
    """Where help goes for an incident, and what its alerts need."""

    incident_id: int
    severity: str
    resident_id: str | None
    lat: float | None
    lon: float | None
    source: str | None  # "home" or "device_location"
    rules: list[str]


async def places(*, conn: AsyncConnection, incident_ids: Sequence[int]) -> list[Place]:
    """The resident's home, else the device's last fix; in the order given."""
    cur = await conn.execute(
        """
        SELECT i.id, i.severity, i.resident_id, r.home_lat, r.home_lon,
               (SELECT array_agg(DISTINCT rule) FROM alerts WHERE incident_id = i.id),
               (SELECT ARRAY[lat, lon] FROM stored_locations l WHERE l.device_id = i.device_id
                ORDER BY ts DESC LIMIT 1)
        FROM incidents i LEFT JOIN resident_directory r ON r.id = i.resident_id
        WHERE i.id = ANY(%s)
        """,
        (list(incident_ids),),
    )
    found: dict[int, Place] = {}
    for incident_id, severity, resident_id, home_lat, home_lon, rules, fix in await cur.fetchall():
        if home_lat is not None:
            lat, lon, source = home_lat, home_lon, "home"
        elif fix is not None:
            (lat, lon), source = fix, "device_location"
        else:
            lat = lon = source = None
        found[incident_id] = Place(
            incident_id, severity, resident_id, lat, lon, source, rules or []
        )
    return [found[i] for i in incident_ids if i in found]


async def loads(*, conn: AsyncConnection, leaving_out: Sequence[int] = ()) -> dict[str, int]:
    """Per point, the incidents it holds now (asked, on the way or on scene)."""
    cur = await conn.execute(
        "SELECT service_point_id, count(*) FROM incidents WHERE service_point_id IS NOT NULL"
        " AND status = ANY(%s) AND id <> ALL(%s) GROUP BY 1",
        (list(HOLDING), list(leaving_out)),
    )
    return {r[0]: int(r[1]) for r in await cur.fetchall()}


@dataclass(frozen=True)
class Routed:
    incident_id: int
    point_id: str | None  # None: nobody inside the circle could take it
    audit_id: int


@dataclass(frozen=True)
class Dispatcher:
    policy: DispatchPolicy
    time_zone: str = "Asia/Shanghai"
    escalation: EscalationPolicy = DEFAULT_POLICY
    # where responders' links point (the service as their phones reach it)
    public_url: str = "http://127.0.0.1:8080"
    # a dispatch text unconfirmed this long goes to the point's next staff member
    sms_delivery_wait_s: float = 60.0

    def local_now(self) -> datetime:
        """Opening hours and shifts are in the service's local time."""
        return datetime.now(ZoneInfo(self.time_zone)).replace(tzinfo=None)

    async def offer_point(
        self, *, conn: AsyncConnection, incident_id: int, point_id: str, actor: str
    ) -> Routed:
        """Ask the point an operator chose."""
        offer = await offers.make(
            conn=conn, incident_id=incident_id, point_id=point_id, minutes=None
        )
        return await self._offered(conn, offer, actor=actor, data={"chosen_by": actor})

    async def route(
        self, *, conn: AsyncConnection, incident_ids: Sequence[int], actor: str
    ) -> list[Routed]:
        """Ask the nearest eligible point for each incident (jointly when several),
        or escalate the ones no point inside the circle can take."""
        found = await places(conn=conn, incident_ids=incident_ids)
        refused = await offers.refused(conn=conn, incident_ids=incident_ids)
        load = await loads(conn=conn, leaving_out=incident_ids)
        router = await router_at(conn=conn, at=self.local_now(), load=load, policy=self.policy)
        routable = [p for p in found if p.lat is not None and needs_of(p.rules)]
        joint = self._jointly(router, routable, refused) if len(routable) > 1 else {}
        done = []
        for place in found:
            done.append(
                await self._route_one(conn, router, place, refused[place.incident_id], joint, actor)
            )
        return done

    def _jointly(
        self, router: Router, routable: list[Place], refused: dict[int, set[str]]
    ) -> dict[int, tuple[str, float] | None]:
        """Per incident, the point and minutes of the least total travel time."""
        surge = [
            Incident(
                p.lat or 0.0,
                p.lon or 0.0,
                mask(needs_of(p.rules)),
                frozenset(refused[p.incident_id]),
            )
            for p in routable
        ]
        assignment = assign_jointly(router, surge)
        chosen: dict[int, tuple[str, float] | None] = {}
        for place, point, minutes in zip(
            routable, assignment.points, assignment.minutes, strict=True
        ):
            chosen[place.incident_id] = (
                None if point is None or minutes is None else (router.network.ids[point], minutes)
            )
        return chosen

    async def _route_one(
        self,
        conn: AsyncConnection,
        router: Router,
        place: Place,
        refused: set[str],
        joint: dict[int, tuple[str, float] | None],
        actor: str,
    ) -> Routed:
        needs = needs_of(place.rules)
        if place.lat is None or place.lon is None or not needs:
            why = "no_place" if place.lat is None else "nothing_needed"
            return await self._nobody(conn, place, actor=actor, data={"why": why})
        ranking = router.rank(
            place.lat, place.lon, mask(needs), resident_id=place.resident_id, refused=refused
        )
        data: dict[str, Any] = {
            "needs": [str(c) for c in needs],
            "from": place.source,
            "considered": [asdict(c) for c in ranking.considered],
            "circle_min": self.policy.circle_min,
        }
        if place.incident_id in joint:
            choice = joint[place.incident_id]
            data["surge"] = len(joint)
        else:
            choice = (ranking.best.point_id, ranking.best.minutes) if ranking.best else None
        if choice is None:
            data["outside"] = asdict(ranking.outside) if ranking.outside else None
            return await self._nobody(conn, place, actor=actor, data=data)
        point_id, minutes = choice
        offer = await offers.make(
            conn=conn, incident_id=place.incident_id, point_id=point_id, minutes=minutes
        )
        data["minutes"] = minutes
        return await self._offered(conn, offer, actor=actor, data=data)

    async def _offered(
        self, conn: AsyncConnection, offer: offers.Offer, *, actor: str, data: dict[str, Any]
    ) -> Routed:
        await conn.execute(
            "UPDATE incidents SET service_point_id = %s WHERE id = %s",
            (offer.point_id, offer.incident_id),
        )
        audit_id = await audit.record(
            conn=conn,
            incident_id=offer.incident_id,
            actor=actor,
            action="offered",
            data={
                "service_point_id": offer.point_id,
                "answer_by": offer.answer_by.isoformat(),
                **data,
            },
        )
        key = await link_key(conn=conn)
        link = f"{self.public_url.rstrip('/')}/r/{key.token(offer.id)}"
        await notices.offered(conn=conn, offer=offer, at=self.local_now(), link=link)
        return Routed(offer.incident_id, offer.point_id, audit_id)

    async def _nobody(
        self, conn: AsyncConnection, place: Place, *, actor: str, data: dict[str, Any]
    ) -> Routed:
        """No point can take it: the supervisor hears, with the best option outside
        the circle; for a P1, the prompt to call 120."""
        to = self.escalation.step(1)
        await conn.execute(
            "UPDATE incidents SET service_point_id = NULL,"
            " escalation_level = greatest(escalation_level, 1) WHERE id = %s",
            (place.incident_id,),
        )
        call_120 = place.severity == "P1"
        audit_id = await audit.record(
            conn=conn,
            incident_id=place.incident_id,
            actor=actor,
            action="no_point",
            data={"to": to, "call_120": call_120, **data},
        )
        await notices.nobody_inside(
            conn=conn, incident_id=place.incident_id, call_120=call_120, outside=data.get("outside")
        )
        log.warning(
            "incident %d: no service point can take it inside the circle; told the %s%s",
            place.incident_id,
            to,
            ", call 120" if call_120 else "",
        )
        return Routed(place.incident_id, None, audit_id)

    async def router(self, *, conn: AsyncConnection) -> Router:
        """The network as it stands now, with the incidents each point holds."""
        load = await loads(conn=conn)
        return await router_at(conn=conn, at=self.local_now(), load=load, policy=self.policy)

    async def request_help(
        self, *, conn: AsyncConnection, device_id: str, service: str, ts: float, key: str
    ) -> int | None:
        """A one-key help request (never an incident): asked of the nearest point that
        offers the service now; None when this press was taken already."""
        cur = await conn.execute(
            """
            SELECT d.resident_id, r.home_lat, r.home_lon,
                   (SELECT ARRAY[lat, lon] FROM stored_locations l WHERE l.device_id = d.id
                    ORDER BY ts DESC LIMIT 1)
            FROM device_register d LEFT JOIN resident_directory r ON r.id = d.resident_id
            WHERE d.id = %s
            """,
            (device_id,),
        )
        row = await cur.fetchone()
        assert row is not None, "ingest stores events of registered devices only"
        resident_id, home_lat, home_lon, fix = row
        place = (home_lat, home_lon) if home_lat is not None else (tuple(fix) if fix else None)
        return await requests.open_request(
            conn=conn,
            router=await self.router(conn=conn),
            key=f"{device_id}:{ts}:{key}",
            at=datetime.fromtimestamp(ts, UTC),
            device_id=device_id,
            resident_id=resident_id,
            service=service,
            place=place,
            local_now=self.local_now(),
        )

    async def release(self, *, conn: AsyncConnection, offer: offers.Offer, action: str) -> None:
        """The asked point said no or let it wait (`action`): record it and free the
        incident for the next point."""
        await conn.execute(
            "UPDATE incidents SET service_point_id = NULL WHERE id = %s AND service_point_id = %s",
            (offer.incident_id, offer.point_id),
        )
        await audit.record(
            conn=conn,
            incident_id=offer.incident_id,
            actor=SYSTEM,
            action=action,
            data={"service_point_id": offer.point_id, "answer_by": offer.answer_by.isoformat()},
        )


async def reroute_overdue(
    *, conn: AsyncConnection, dispatcher: Dispatcher, limit: int = BATCH
) -> tuple[int, list[Routed]]:
    """Offers nobody answered in time go on to the next point; returns how many
    expired, and where their incidents went."""
    async with conn.transaction():
        # most polls find nothing due: they must not take the alerts lock
        if not await offers.any_overdue(conn=conn):
            return 0, []
        await audit.lock_alerts(conn=conn)
        expired = await offers.expire_overdue(conn=conn, limit=limit)
        for offer in expired:
            await dispatcher.release(conn=conn, offer=offer, action="offer_expired")
        cur = await conn.execute(
            "SELECT id FROM incidents WHERE id = ANY(%s) AND status = 'acknowledged' ORDER BY id",
            ([o.incident_id for o in expired],),
        )
        still = [int(r[0]) for r in await cur.fetchall()]
        return len(expired), await dispatcher.route(
            conn=conn, incident_ids=still, actor=SYSTEM
        ) if still else []


async def follow_undelivered(
    *, conn: AsyncConnection, dispatcher: Dispatcher, limit: int = BATCH
) -> int:
    """A dispatch text that did not reach a point's staff member (failed, reported
    undelivered, or unconfirmed after the wait) goes to the point's next staff member,
    and the operator sees it on the incident; returns how many were followed."""
    async with conn.transaction():
        missed = await receipts.undelivered_dispatches(
            conn=conn, wait_s=dispatcher.sms_delivery_wait_s, limit=limit
        )
        if not missed:
            return 0
        await audit.lock_alerts(conn=conn)
        for m in missed:
            next_staff = await plan.tell_next_staff(
                conn=conn, incident_id=m.incident_id, point_id=m.point_id, body=m.body,
                at=dispatcher.local_now(),
            )  # fmt: skip
            what = {
                "failed": "发送失败",
                "undelivered": "未送达",
                "unconfirmed": f"{dispatcher.sms_delivery_wait_s:.0f}秒内未确认送达",
            }[m.why]
            code = f"（{m.code}）" if m.code else ""
            then = f"已改发{next_staff}" if next_staff else "该服务点已无其他人员可通知"
            await audit.record(
                conn=conn,
                incident_id=m.incident_id,
                actor=SYSTEM,
                action="sms_undelivered",
                note=f"发给{m.staff_name}的派单短信{what}{code}，{then}",
                data={"service_point_id": m.point_id, "staff": m.staff_name, "why": m.why,
                      "code": m.code, "next_staff": next_staff},
            )  # fmt: skip
            log.warning(
                "incident %d: the dispatch text to %s at point %s did not get through (%s);"
                " %s",
                m.incident_id, m.staff_name, m.point_id, m.why,
                f"sent to {next_staff}" if next_staff else "nobody else there to tell",
            )  # fmt: skip
        return len(missed)


class OfferWorker:
    """The supervised loop: `kernel.periodic.every(POLL_S, worker.step, outage)`."""

    def __init__(self, pool: AsyncConnectionPool, dispatcher: Dispatcher) -> None:
        self._pool = pool
        self._dispatcher = dispatcher

    async def step(self) -> None:
        async with self._pool.connection() as conn:
            # a backlog (after an outage) is cleared before the next poll
            while (await reroute_overdue(conn=conn, dispatcher=self._dispatcher))[0] == BATCH:
                pass
            while await follow_undelivered(conn=conn, dispatcher=self._dispatcher) == BATCH:
                pass
