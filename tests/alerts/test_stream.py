"""The live stream (server-sent events) on real `anxin serve` processes: one change
to every client, across instances, within a second; a reconnect with Last-Event-ID
misses nothing; a client sees only its scope."""

import contextlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from httpx_sse import connect_sse

from tests.alerts.test_lifecycle import finding, open_one
from tests.api_world import World, call
from tests.conftest import ServeProcess, wait_until


@dataclass(eq=False)
class Listener(threading.Thread):
    """A stream client in a thread: keeps every `change` with when it arrived."""

    base: str
    token: str
    last_event_id: int | None = None
    events: list[tuple[int, dict[str, Any], float]] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    ready_id: str | None = None

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        with (
            contextlib.suppress(httpx.RemoteProtocolError),  # the server stopped at the end
            httpx.Client(timeout=httpx.Timeout(5, read=None)) as client,
            connect_sse(client, "GET", f"{self.base}/api/v1/stream", headers=headers) as source,
        ):
            for sse in source.iter_sse():
                if sse.event == "ready":
                    self.ready_id = sse.id
                    self.ready.set()
                elif sse.event == "change":
                    self.events.append((int(sse.id), json.loads(sse.data), time.time()))

    def connect(self) -> "Listener":
        self.start()
        assert self.ready.wait(10), "stream not ready"
        return self

    def ids(self) -> list[int]:
        return [e[0] for e in self.events]


def ack(world: World, who: str, alert_id: int) -> tuple[int, float]:
    """Acknowledge; returns the change's event id and when its commit was answered."""
    answer = call(world, who, "POST", f"/api/v1/alerts/{alert_id}/ack")
    assert answer.status_code == 200, answer.text
    return answer.json()["event_id"], time.time()


def test_one_change_reaches_two_clients_on_two_instances_within_a_second(
    world: World, serve: ServeProcess, tmp_path: Path
) -> None:
    other = serve.another(tmp_path / "second.log").start()
    try:
        here = Listener(world.base, world.tokens["op"]).connect()
        there = Listener(other.base_url, world.tokens["sup"]).connect()
        event_id, committed = ack(world, "admin", world.alerts["r1"])
        for client in (here, there):
            wait_until(lambda c=client: event_id in c.ids(), timeout=5, what="the change")
            (got,) = [e for e in client.events if e[0] == event_id]
            assert got[1]["action"] == "ack"
            assert got[1]["to_status"] == "acknowledged"
            assert got[1]["actor"] == "admin"
            assert got[2] - committed < 1.0
    finally:
        other.stop()


def test_a_client_reconnecting_with_last_event_id_misses_nothing(
    world: World, database_url: str, db: psycopg.Connection
) -> None:
    first = Listener(world.base, world.tokens["admin"]).connect()
    seen, _ = ack(world, "op", world.alerts["r1"])
    wait_until(lambda: seen in first.ids(), timeout=5, what="the first change")
    # while the client is away: an ack, a note, and a finding from a device
    ack(world, "op", world.alerts["r2"])
    call(
        world,
        "op",
        "POST",
        f"/api/v1/alerts/{world.alerts['r1']}/note",
        json={"note": "邻居有钥匙"},
    )
    open_one(database_url, finding("w2", "vitals_news2"))
    missed = [
        r[0] for r in db.execute("SELECT id FROM alert_audit WHERE id > %s ORDER BY id", (seen,))
    ]
    assert len(missed) == 3
    back = Listener(world.base, world.tokens["admin"], last_event_id=seen).connect()
    live = call(
        world, "op", "POST", f"/api/v1/alerts/{world.alerts['r2']}/note", json={"note": "live"}
    ).json()["event_id"]
    wait_until(lambda: live in back.ids(), timeout=5, what="the live change")
    assert back.ids() == [*missed, live]


def test_a_client_that_has_seen_no_change_resumes_from_where_it_was_ready(
    world: World,
) -> None:
    first = Listener(world.base, world.tokens["op"]).connect()
    assert first.ready_id is not None  # a browser keeps it as its Last-Event-ID
    event_id, _ = ack(world, "admin", world.alerts["r2"])  # while it is away, say
    back = Listener(world.base, world.tokens["op"], int(first.ready_id)).connect()
    wait_until(lambda: event_id in back.ids(), timeout=5, what="the change made meanwhile")


def test_a_client_sees_only_changes_in_its_scope(world: World) -> None:
    jiangan = Listener(world.base, world.tokens["op_jiangan"]).connect()
    carer = Listener(world.base, world.tokens["carer"]).connect()
    point = Listener(world.base, world.tokens["sp1"]).connect()
    everyone = Listener(world.base, world.tokens["admin"]).connect()
    r2_change, _ = ack(world, "op", world.alerts["r2"])
    r1_change, _ = ack(world, "op", world.alerts["r1"])
    sent = call(
        world,
        "op",
        "POST",
        f"/api/v1/alerts/{world.alerts['r1']}/assign",
        json={"service_point_id": "sp1"},
    ).json()["event_id"]
    offered = sent + 1  # the assignment's offer to sp1, in the same transaction
    wait_until(lambda: offered in everyone.ids(), timeout=5, what="all changes")
    wait_until(lambda: offered in point.ids(), timeout=5, what="sp1's changes")
    time.sleep(0.3)
    assert everyone.ids() == [r2_change, r1_change, sent, offered]
    assert jiangan.ids() == [r1_change, sent, offered]
    assert carer.ids() == [r1_change, sent, offered]
    assert point.ids() == [sent, offered]  # r1 is sp1's from the assignment on


def test_the_stream_needs_a_token_and_a_numeric_last_event_id(world: World) -> None:
    assert httpx.get(f"{world.base}/api/v1/stream", timeout=5).status_code == 401
    bad = httpx.get(
        f"{world.base}/api/v1/stream",
        headers={"Authorization": f"Bearer {world.tokens['op']}", "Last-Event-ID": "abc"},
        timeout=5,
    )
    assert bad.status_code == 422
    assert "Last-Event-ID" in bad.text


def test_a_lost_listening_connection_is_an_outage_waited_out_not_a_task_failure(
    world: World, serve: ServeProcess, db: psycopg.Connection, tmp_path: Path
) -> None:
    """The stream's LISTEN connection dropped three times (as a database restart drops
    it) must not count against the supervisor's restarts (here: 1), and changes made
    afterwards still reach a client."""
    serve.stop()
    serve.env.update({"ANXIN_SUPERVISOR_MAX_RESTARTS": "1", "ANXIN_SUPERVISOR_BACKOFF_S": "0.2"})
    serve.start()
    for _ in range(3):
        wait_until(
            lambda: (
                db.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'anxin-listen'"
                ).fetchone()
                == (1,)
            ),
            timeout=10,
            what="the stream listening",
        )
        db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'anxin-listen'"
        )
    serve.wait_ready()
    client = Listener(world.base, world.tokens["admin"]).connect()
    event_id, _ = ack(world, "op", world.alerts["r1"])
    wait_until(lambda: event_id in client.ids(), timeout=10, what="the change after the drops")
    assert serve.proc is not None
    assert serve.proc.poll() is None
    assert "task 'alerts stream' failed" not in serve.log()
    assert "task 'database notifications' failed" not in serve.log()


def test_a_listening_connection_lost_after_hours_is_an_outage_of_seconds_not_hours(
    world: World, serve: ServeProcess, db: psycopg.Connection
) -> None:
    """The outage's length counts from when the listening connection was lost, not from
    when it began listening (which read as a database outage as long as the uptime)."""
    listening = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'anxin-listen'"
    wait_until(lambda: db.execute(listening).fetchone() == (1,), timeout=10, what="listening")
    time.sleep(5)
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = 'anxin-listen'"
    )
    wait_until(lambda: "database back after" in serve.log(), timeout=15, what="back")
    (said,) = re.findall(r"database back after ([0-9.]+)s", serve.log())
    assert float(said) < 3, f"a lost connection reconnected at once was said to last {said}s"
