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
from simulators.receivers import WebhookReceiver
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
        call(world, "op", "POST", f"/api/v1/alerts/{alert}/note", json={"note": "回电话了"})
        # the silent one still holds its first message (8 s): the other's second
        # message must not wait for it
        wait_until(lambda: len(receiver.ids()) == 2, timeout=4, what="the other's 2nd message")
    finally:
        silent.stop()


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
