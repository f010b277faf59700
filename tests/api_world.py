"""What the API tests share: a running `anxin serve` with residents in two
districts, two service points, a user of every role and an incident per resident."""

from dataclasses import dataclass

import httpx
import psycopg
import pytest

from access.accounts import Role, UserIn, add_user
from alerts import lifecycle
from alerts.lifecycle import Action
from alerts.models import Resolution
from tests.alerts.test_lifecycle import DISPATCHER, finding, open_one, run
from tests.conftest import ServeProcess, register


@dataclass(frozen=True)
class World:
    base: str
    tokens: dict[str, str]
    # resident -> an alert of theirs
    alerts: dict[str, int]


USERS = {
    "op": UserIn(name="op", role=Role.OPERATOR),
    "op_jiangan": UserIn(name="op_jiangan", role=Role.OPERATOR, districts=["江岸区"]),
    "sup": UserIn(name="sup", role=Role.SUPERVISOR),
    "admin": UserIn(name="admin", role=Role.ADMIN),
    "sp1": UserIn(name="sp1", role=Role.SERVICE_POINT, service_point_id="sp1"),
    "carer": UserIn(name="carer", role=Role.CAREGIVER, phone="13800000001"),
}


def seed(db: psycopg.Connection) -> None:
    db.execute(
        "INSERT INTO residents (id, name, district) VALUES"
        " ('r1', '王秀英', '江岸区'), ('r2', '李建国', '武昌区'), ('r3', '张桂兰', '武昌区')"
    )
    db.execute(
        "INSERT INTO resident_contacts (resident_id, position, name, relation, phone)"
        " VALUES ('r1', 1, '王敏', '女儿', '13800000001')"
    )
    db.execute(
        "INSERT INTO service_points (id, name, kind, lat, lon) VALUES"
        " ('sp1', '一元路站', 'station', 30.6, 114.3),"
        " ('sp2', '积玉桥站', 'station', 30.56, 114.31)"
    )
    register(db, "w1", "w2", "w3")
    db.execute("UPDATE devices SET resident_id = 'r' || substr(id, 2)")


@pytest.fixture
def world(db: psycopg.Connection, database_url: str, serve: ServeProcess) -> World:
    seed(db)

    async def tokens(conn: psycopg.AsyncConnection) -> dict[str, str]:
        return {name: await add_user(conn=conn, user=u) for name, u in USERS.items()}

    issued = run(database_url, tokens)
    alerts = {r: open_one(database_url, finding(f"w{r[1]}")).id for r in ("r1", "r2", "r3")}
    # r3's incident goes to sp2, so sp1 must not see it
    for action in (Action.ACK, Action.ASSIGN, Action.ACCEPT):
        admin_act(database_url, alerts["r3"], action, service_point_id="sp2")
    serve.start()
    return World(serve.base_url, issued, alerts)


def admin_act(database_url: str, alert_id: int, action: Action, **kw: object) -> None:
    extra: dict[str, object] = {
        Action.RESOLVE: {"outcome": Resolution.ASSISTED, "note": "ok"},
        Action.ASSIGN: {"service_point_id": "sp1"},
        Action.NOTE: {"note": "n"},
    }.get(action, {})  # type: ignore[assignment]
    request = lifecycle.Request(action=action, actor="admin", **{**extra, **kw})  # type: ignore[arg-type]
    run(
        database_url,
        lambda c: lifecycle.act(conn=c, alert_id=alert_id, request=request, dispatcher=DISPATCHER),
    )


def call(world: World, who: str | None, method: str, path: str, **kw: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {world.tokens[who]}"} if who else {}
    headers.update(kw.pop("headers", {}))  # type: ignore[arg-type]
    return httpx.request(method, world.base + path, headers=headers, timeout=10, **kw)  # type: ignore[arg-type]
