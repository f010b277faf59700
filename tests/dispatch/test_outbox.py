"""The outbox on real `anxin serve` processes and a real local webhook receiver: each
change is sent once, signed; a 500 or a timeout is tried again with the same id; a
kill -9 between sending and recording repeats a message at most once; two instances
never send one message twice; a receiver down for 60 s loses nothing."""

import hashlib
import hmac
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from dispatch.notify import outbox
from dispatch.notify.worker import PER_RECEIVER, POLL_S
from testbed.receivers import WebhookReceiver
from testbed.services import PostgresCluster
from tests.alerts.test_lifecycle import run
from tests.anxin.test_cli import anxin
from tests.api_world import World, call
from tests.conftest import ServeProcess, wait_until

SECRET = "s3cret-for-the-tests-only"
# the family's texts are in the outbox too (and unsent: no SMS provider here)
WEBHOOK_STATUS = "SELECT status FROM outbox WHERE channel = 'webhook'"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver(secret=SECRET).start()
    yield r
    r.stop()


def hook(env: dict[str, str], receiver: WebhookReceiver, name: str = "hook") -> None:
    added = anxin("webhooks", "add", name, receiver.url, "--secret", SECRET, env=env)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip().endswith(SECRET)


def restart(serve: ServeProcess, **settings: str) -> None:
    serve.stop()
    serve.env.update({f"ANXIN_{k.upper()}": v for k, v in settings.items()})
    serve.start()


def webhook_counts(db: psycopg.Connection) -> dict[str, int]:
    rows = db.execute(
        "SELECT status, count(*) FROM outbox WHERE channel = 'webhook' GROUP BY 1"
    ).fetchall()
    return dict(rows)


def attempts(db: psycopg.Connection) -> list[tuple[int, bool, int | None, str | None]]:
    return db.execute(
        "SELECT a.outbox_id, a.ok, a.status_code, a.error FROM outbox_attempts a"
        " JOIN outbox o ON o.id = a.outbox_id WHERE o.channel = 'webhook' ORDER BY a.id"
    ).fetchall()


def test_each_change_reaches_the_webhook_once_signed(
    world: World, serve: ServeProcess, db: psycopg.Connection, receiver: WebhookReceiver
) -> None:
    hook(serve.env, receiver)
    answer = call(world, "op", "POST", f"/api/v1/alerts/{world.alerts['r1']}/ack")
    assert answer.status_code == 200
    wait_until(lambda: len(receiver.ids()) == 1, timeout=5, what="the webhook call")
    time.sleep(0.5)
    (delivery,) = receiver.requests
    assert delivery.verified
    body = delivery.json()
    assert body["event"] == "incident.ack"
    assert body["event_id"] == answer.json()["event_id"]
    assert body["to_status"] == "acknowledged"
    (row,) = db.execute(
        "SELECT id, status, attempts, receipt FROM outbox WHERE channel = 'webhook'"
    ).fetchall()
    assert delivery.headers["anxin-message-id"] == str(row[0])
    assert row[1:] == ("sent", 1, {"ok": True})


def test_the_receiver_refuses_a_forged_or_replayed_request(receiver: WebhookReceiver) -> None:
    """The stand-in's check is real: without the secret, or with an old timestamp,
    a request is refused."""
    body = b'{"event": "incident.resolve"}'

    def post(stamp: int, key: str) -> int:
        sig = hmac.new(key.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        headers = {"Anxin-Timestamp": str(stamp), "Anxin-Signature": f"v1={sig}"}
        return httpx.post(receiver.url, content=body, headers=headers, timeout=5).status_code

    now = int(time.time())
    assert post(now, SECRET) == 200
    assert post(now, "not-the-secret-at-all") == 401
    assert post(now - 600, SECRET) == 401


def test_a_500_and_a_timeout_are_tried_again_with_the_same_id(
    world: World, serve: ServeProcess, db: psycopg.Connection, receiver: WebhookReceiver
) -> None:
    restart(serve, notify_timeout_s="1", notify_lease_s="5")
    hook(serve.env, receiver)
    receiver.fail_next, receiver.hang_next, receiver.hang_s = 2, 1, 2.5
    call(world, "op", "POST", f"/api/v1/alerts/{world.alerts['r1']}/ack")
    wait_until(
        lambda: db.execute(WEBHOOK_STATUS).fetchone() == ("sent",),
        timeout=20,
        what="delivery after two 500s and a timeout",
    )
    tried = attempts(db)
    assert [(ok, code) for _, ok, code, _ in tried] == [
        (False, 500), (False, 500), (False, None), (True, 200)
    ]  # fmt: skip
    assert "Timeout" in str(tried[2][3])
    assert len(set(receiver.ids())) == 1  # one message, four times, one id


def test_a_kill_between_sending_and_recording_repeats_a_message_at_most_once(
    world: World, serve: ServeProcess, db: psycopg.Connection, receiver: WebhookReceiver
) -> None:
    restart(serve, notify_timeout_s="3", notify_lease_s="7")
    hook(serve.env, receiver)
    receiver.hang_next, receiver.hang_s = 1, 2.0  # answers after the sender is gone
    call(world, "op", "POST", f"/api/v1/alerts/{world.alerts['r1']}/ack")
    wait_until(lambda: len(receiver.ids()) == 1, timeout=5, what="the first send")
    serve.kill9()
    serve.start()
    wait_until(lambda: len(receiver.ids()) == 2, timeout=15, what="the repeat after the lease")
    wait_until(
        lambda: db.execute(WEBHOOK_STATUS).fetchone() == ("sent",),
        timeout=5,
        what="the repeat recorded",
    )
    time.sleep(2)
    first, again = receiver.ids()
    assert first == again  # the receiver can drop the repeat by its id
    assert len(receiver.ids()) == 2


def test_a_receiver_that_never_answers_holds_up_only_its_own_messages(
    world: World, serve: ServeProcess, receiver: WebhookReceiver
) -> None:
    silent = WebhookReceiver(secret=SECRET, hang_next=100, hang_s=8.0).start()
    try:
        hook(serve.env, silent, "silent")
        hook(serve.env, receiver)
        alert = world.alerts["r1"]
        call(world, "op", "POST", f"/api/v1/alerts/{alert}/ack")
        wait_until(lambda: len(silent.ids()) >= 1, timeout=5, what="the silent one asked")
        noted = time.time()
        call(world, "op", "POST", f"/api/v1/alerts/{alert}/note", json={"note": "回电话了"})
        # the silent one still holds its first message (8 s): the other's second
        # message must not wait for it
        wait_until(lambda: len(receiver.ids()) == 2, timeout=4, what="the other's 2nd message")
        assert receiver.requests[1].at - noted < 0.5
    finally:
        silent.stop()


def queue(database_url: str, recipient: str, count: int, **body: object) -> list[int]:
    """`count` routine messages to one webhook, in one transaction."""

    async def burst(conn: psycopg.AsyncConnection) -> list[int]:
        async with conn.transaction():
            return [
                await outbox.enqueue(
                    conn=conn, channel="webhook", recipient=recipient, body={**body, "n": n}
                )
                for n in range(count)
            ]

    return run(database_url, burst)


def test_a_receiver_answering_500_rests_holds_up_no_one_and_is_probed_back(
    world: World,
    serve: ServeProcess,
    database_url: str,
    db: psycopg.Connection,
    receiver: WebhookReceiver,
) -> None:
    failing = WebhookReceiver(secret=SECRET, fail_next=10**6).start()
    try:
        hook(serve.env, failing, "failing")
        hook(serve.env, receiver)
        queue(database_url, "failing", 50)
        wait_until(lambda: len(failing.requests) >= 3, timeout=5, what="the failing one tried")
        # it rests, said once, on /readyz; everyone else's messages flow meanwhile
        wait_until(lambda: "receiver webhook failing failing" in serve.log(), timeout=5,
                   what="the outage said")  # fmt: skip
        ready = httpx.get(serve.base_url + "/readyz", timeout=5).json()
        assert [r["recipient"] for r in ready["receivers_resting"]] == ["failing"]
        asked = time.time()
        queue(database_url, "hook", 1)
        wait_until(lambda: len(receiver.ids()) == 1, timeout=5, what="the other's message")
        # (with every attempt's answer, should it ever be late)
        assert receiver.requests[0].at - asked < 0.5, attempts(db)
        tried = len(failing.requests)
        time.sleep(6)
        # resting: probed by one message after each rest (5 s at most), not hammered
        # with its 50 messages
        assert 1 <= len(failing.requests) - tried <= 2
        failing.fail_next = 0
        back = time.time()
        wait_until(lambda: len(set(failing.ids())) == 50, timeout=15, what="the backlog")
        took = max(r.at for r in failing.verified()) - back
        assert took < 8, f"the backlog took {took:.1f}s after the receiver came back"
        wait_until(lambda: "receiver webhook failing back after" in serve.log(), timeout=5,
                   what="the recovery said")  # fmt: skip
        assert serve.log().count("receiver webhook failing failing") == 1
        ready = httpx.get(serve.base_url + "/readyz", timeout=5).json()
        assert ready["receivers_resting"] == []
        # the last answer may be a moment from being recorded
        wait_until(
            lambda: (
                db.execute(
                    "SELECT count(*) FROM outbox WHERE recipient = 'failing' AND status = 'sent'"
                ).fetchone()
                == (50,)
            ),
            timeout=5,
            what="all 50 recorded sent",
        )
    finally:
        failing.stop()


def test_an_urgent_message_overtakes_a_backlog_of_routine_ones(
    world: World, serve: ServeProcess, db: psycopg.Connection, receiver: WebhookReceiver
) -> None:
    receiver.hang_next, receiver.hang_s = 10**6, 0.2  # a slow receiver: 0.2 s a message
    hook(serve.env, receiver)
    db.execute(
        "INSERT INTO outbox (channel, recipient, body)"
        " SELECT 'webhook', 'hook', json_build_object('event', 'report', 'n', n)"
        " FROM generate_series(1, 10000) n"
    )
    db.commit()
    wait_until(lambda: len(receiver.requests) >= 8, timeout=5, what="the backlog under way")
    asked = time.time()
    call(world, "op", "POST", f"/api/v1/alerts/{world.alerts['r1']}/ack")

    def urgent_arrived() -> float | None:
        for r in list(receiver.requests):
            if r.json().get("event") == "incident.ack":
                return r.at
        return None

    wait_until(lambda: urgent_arrived() is not None, timeout=5, what="the urgent message")
    arrived = urgent_arrived()
    assert arrived is not None
    # behind a receiver slot or two at most, not behind 10,000 routine messages
    assert arrived - asked < 1.0


def test_a_slow_receiver_never_has_more_than_its_share_of_messages_in_flight(
    serve: ServeProcess, database_url: str, db: psycopg.Connection, receiver: WebhookReceiver
) -> None:
    """However its answers free room, one by one or together, a receiver holds at
    most PER_RECEIVER of the sender's slots: the rest are everyone else's."""
    receiver.hang_next, receiver.hang_s, receiver.jitter_s = 10**6, 0.05, 0.4
    serve.start()
    hook(serve.env, receiver)
    queue(database_url, "hook", 120)
    wait_until(lambda: len(receiver.requests) == 120, timeout=30, what="every message")
    assert receiver.most_at_once == PER_RECEIVER


def test_the_sender_is_woken_by_the_commit_not_by_its_poll(
    world: World, serve: ServeProcess, database_url: str, receiver: WebhookReceiver
) -> None:
    hook(serve.env, receiver)
    queue(database_url, "hook", 1)  # the first send opens the connection
    wait_until(lambda: len(receiver.requests) == 1, timeout=5, what="the first message")
    waits = []
    for n in range(10):
        time.sleep(0.05 * (n % 3))  # not in step with the poll
        queued = time.time()
        queue(database_url, "hook", 1)
        wait_until(lambda n=n: len(receiver.requests) == n + 2, timeout=5, what="the message")
        waits.append(receiver.requests[-1].at - queued)
    waits.sort()
    assert waits[len(waits) // 2] < POLL_S / 10, f"pickups {waits}"


@pytest.mark.slow
def test_a_kill9_mid_send_and_a_30s_database_outage_deliver_each_message_once_per_key(
    world: World,
    serve: ServeProcess,
    database_url: str,
    db: psycopg.Connection,
    receiver: WebhookReceiver,
    pg_cluster: PostgresCluster,
) -> None:
    hook(serve.env, receiver)
    db.close()
    # killed mid-send: these answers come after the sender is gone
    receiver.hang_next, receiver.hang_s = 4, 1.0
    queue(database_url, "hook", 4, batch="killed")
    wait_until(lambda: len(receiver.requests) == 4, timeout=5, what="the sends in flight")
    serve.kill9()
    serve.start()
    restarted = time.time()
    wait_until(lambda: len(receiver.ids()) >= 8, timeout=10, what="the in-flight ones again")
    resent = max(r.at for r in receiver.requests) - restarted
    assert resent < 5, f"in-flight messages sent again {resent:.1f}s after the restart"

    # the database goes while messages are being sent: their results wait for it
    receiver.hang_next, receiver.hang_s = 4, 2.0
    queue(database_url, "hook", 4, batch="outage")
    wait_until(lambda: len(receiver.requests) == 12, timeout=5, what="the outage batch sent")
    pg_cluster.stop("fast")
    try:
        time.sleep(30)
    finally:
        pg_cluster.start()
    queue(database_url, "hook", 4, batch="after")

    def sent() -> int:
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM outbox WHERE channel = 'webhook' AND status = 'sent'"
            ).fetchone()
        return int(row[0]) if row else 0

    wait_until(lambda: sent() == 12, timeout=20, what="every message recorded sent")
    time.sleep(POLL_S * 4)
    counts = Counter(receiver.ids())
    assert len(counts) == 12
    batches = Counter(r.json()["batch"] for r in receiver.verified())
    # the killed ones twice (sent, not recorded: the receiver drops the repeat by its
    # key); the outage's and the later ones once
    assert batches == {"killed": 8, "outage": 4, "after": 4}


def test_two_instances_never_send_one_message_twice(
    world: World,
    serve: ServeProcess,
    database_url: str,
    receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    hook(serve.env, receiver)
    other = serve.another(tmp_path / "second.log").start()
    try:

        async def burst(conn: psycopg.AsyncConnection) -> None:
            async with conn.transaction():
                for n in range(600):
                    await outbox.enqueue(
                        conn=conn, channel="webhook", recipient="hook", body={"n": n}
                    )

        run(database_url, burst)
        wait_until(lambda: len(receiver.ids()) >= 600, timeout=30, what="600 messages")
        time.sleep(1)
        counts = Counter(receiver.ids())
        assert len(counts) == 600
        assert max(counts.values()) == 1
    finally:
        other.stop()


def test_a_receiver_down_for_60s_delays_its_messages_and_loses_none(
    world: World, serve: ServeProcess, db: psycopg.Connection, receiver: WebhookReceiver
) -> None:
    hook(serve.env, receiver)
    receiver.stop()
    went = time.monotonic()
    for who in ("r1", "r2"):
        call(world, "op", "POST", f"/api/v1/alerts/{world.alerts[who]}/ack")
        call(world, "op", "POST", f"/api/v1/alerts/{world.alerts[who]}/note", json={"note": "x"})
    time.sleep(max(0.0, 60 - (time.monotonic() - went)))
    failed = db.execute(
        "SELECT count(*) FROM outbox_attempts a JOIN outbox o ON o.id = a.outbox_id"
        " WHERE NOT a.ok AND o.channel = 'webhook'"
    ).fetchone()
    assert failed is not None
    assert failed[0] >= 4  # tried while it was down
    receiver.start()
    wait_until(
        lambda: (
            db.execute(
                "SELECT count(*) FROM outbox WHERE status = 'sent' AND channel = 'webhook'"
            ).fetchone()
            == (4,)
        ),
        timeout=40,
        what="all four after the receiver came back",
    )
    assert len(receiver.ids()) == 4
    assert len(set(receiver.ids())) == 4
    assert db.execute(
        "SELECT count(*) FROM outbox WHERE status <> 'sent' AND channel = 'webhook'"
    ).fetchone() == (0,)
