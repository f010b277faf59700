"""Poison input: what PostgreSQL or the parser would refuse never stalls ingest, never
costs an emergency its alert, and every dead letter says what was wrong."""

import asyncio
import math
import time

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from alerts.intake import Intake
from alerts.live import LiveDetector
from alerts.response.dispatching import Dispatcher
from dispatch.choosing import DispatchPolicy
from ingest.canonical import Codec
from ingest.decoding import Decoder
from ingest.pipeline import IngestPipeline
from ingest.writer import Message
from testbed.services import Mosquitto
from tests.conftest import ServeProcess, register, wait_until
from tests.ingest.test_end_to_end import count, publisher

DEEP = b'{"a": ' + b"[" * 2000 + b"]" * 2000 + b"}"  # event data nested 2,000 deep


@pytest.fixture
def serving_a_button_and_a_watch(db: psycopg.Connection, serve: ServeProcess) -> ServeProcess:
    register(db, "btn1", kind="sos_button")
    register(db, "w1")
    return serve.start()


def test_nul_characters_are_cleaned_and_an_sos_with_one_in_its_id_alerts(
    db: psycopg.Connection, broker: Mosquitto, serving_a_button_and_a_watch: ServeProcess
) -> None:
    now = time.time()
    with publisher(broker) as pub:
        pub.publish(
            "anxin/v1/btn1/event", b'{"ts": %d, "type": "sos", "id": "p\\u00001"}' % now, "e"
        )
        pub.publish("anxin/v1/w1/status", b'{"ts": %d, "fw": "1.\\u00002"}' % now, "s")
        pub.publish(
            "anxin/v1/w1/event",
            b'{"ts": %d, "type": "button", "data": {"k\\u0000": "v\\u0000"}}' % now,
            "e",
        )
        for seq in range(50):
            pub.publish("anxin/v1/w1/vitals", {"ts": now, "seq": seq, "hr": 70}, "v")
    wait_until(lambda: count(db, "SELECT count(*) FROM vitals") == 50, timeout=15, what="vitals")
    wait_until(
        lambda: count(db, "SELECT count(*) FROM alert_findings") == 1, timeout=5, what="SOS alert"
    )
    assert count(db, "SELECT count(*) FROM events") == 2
    assert count(db, "SELECT count(*) FROM device_status WHERE fw = '1.\ufffd2'") == 1
    (data,) = db.execute("SELECT data FROM events WHERE type = 'sos'").fetchone() or ()
    assert data == {
        "damaged": [
            {
                "code": "nul_replaced",
                "zh-CN": "空字符（NUL）已替换",
                "en": "NUL characters replaced",
            }
        ]
    }
    assert count(db, "SELECT count(*) FROM dead_letters") == 0
    assert "refused" not in serving_a_button_and_a_watch.log()


def test_emergencies_with_unreadable_details_still_alert_and_say_what_was_damaged(
    db: psycopg.Connection, broker: Mosquitto, serving_a_button_and_a_watch: ServeProcess
) -> None:
    now = int(time.time())
    with publisher(broker) as pub:
        pub.publish(
            "anxin/v1/btn1/event", b'{"ts": %d, "type": "sos", "data": %s}' % (now, DEEP), ""
        )
        pub.publish(
            "anxin/v1/w1/event", b'{"ts": %d, "type": "fall", "data": {"x": "\xff\xfe"}}' % now, ""
        )
        pub.publish("anxin/v1/w1/event", {"ts": now + 1, "type": "sos", "seq": -4}, "")
    wait_until(
        lambda: count(db, "SELECT count(*) FROM alert_findings") == 3, timeout=10, what="3 alerts"
    )
    damage = [r[0] for r in db.execute("SELECT data->'damaged' FROM events ORDER BY type, ts")]
    # each note: a code for software, the sentence in Chinese (first) and English
    assert damage[1][0]["code"] == "payload_unreadable"  # the SOS from btn1
    assert "nested too deeply" in damage[1][0]["en"]
    assert damage[1][0]["zh-CN"] == "报文无法完整解析，已找回事件类型和时间"
    assert [(d["code"], d["en"]) for d in damage[0]] == [  # the fall
        ("text_repaired", "invalid UTF-8 or unpaired surrogates replaced")
    ]
    assert damage[2] == [
        {
            "code": "field_dropped",
            "field": "seq",
            "value": "-4",
            "zh-CN": "字段 seq（'-4'）无效，已丢弃",
            "en": "seq '-4' dropped",
        }
    ]
    assert count(db, "SELECT count(*) FROM dead_letters") == 0


def test_unreadable_payloads_are_dead_lettered_with_a_specific_reason_and_no_trace(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    register(db, "w1")
    serve.start()
    now = int(time.time())
    with publisher(broker) as pub:
        for _ in range(20):
            pub.publish(
                "anxin/v1/w1/event", b'{"ts": %d, "type": "motion", "data": %s}' % (now, DEEP), ""
            )
            pub.publish(
                "anxin/v1/w1/event", b'{"ts": %d, "type": "door_open", "id": "\xff"}' % now, ""
            )
            pub.publish("anxin/v1/w1/status", b'{"ts": %d, "fw": "\\udc00"}' % now, "")
    wait_until(lambda: count(db, "SELECT count(*) FROM dead_letters") == 60, timeout=10, what="dl")
    reasons = {
        (r[0], r[1].get("channel"))
        for r in db.execute("SELECT reason_code, reason_values FROM dead_letters")
    }
    assert reasons == {("too_deep", "event"), ("not_utf8", "event"), ("lone_surrogate", "status")}
    assert "Traceback" not in serve.log()


def test_a_batch_the_database_refuses_is_split_in_halves_not_written_row_by_row(
    db: psycopg.Connection, database_url: str
) -> None:
    # A constraint the codec cannot know about: the database alone refuses hr = 113.
    register(db, "w1")
    db.execute("ALTER TABLE vitals ADD CONSTRAINT no_thirteen CHECK (hr <> 113)")
    try:
        writes, result = asyncio.run(_store_with_one_refused_row(database_url, n=1024))
    finally:
        db.execute("ALTER TABLE vitals DROP CONSTRAINT no_thirteen")
    assert result.inserted == {"vitals": 1023}
    assert result.dead_letters == 1
    row = db.execute("SELECT reason_code, reason_values, reason FROM dead_letters").fetchone()
    assert row == (
        "db_refused",
        {"sqlstate": "23514", "constraint": "no_thirteen"},
        "database refused the row (SQLSTATE 23514, constraint no_thirteen)",
    )
    # one try, two halves per level down to the bad row, and its dead letter
    assert writes <= 2 * math.log2(1024) + 2


async def _store_with_one_refused_row(url: str, n: int) -> tuple[int, object]:
    codec = Codec(max_payload_bytes=65536, future_tolerance_s=86400)
    now = time.time()
    messages = [
        Message(t, p, codec.decode(t, p, now))
        for seq in range(n)
        for t, p in [
            (
                "anxin/v1/w1/vitals",
                b'{"ts": %d, "seq": %d, "hr": %d}' % (now, seq, 113 if seq == 700 else 70),
            )
        ]
    ]
    async with AsyncConnectionPool(url, min_size=1, max_size=2) as pool:
        pipeline = IngestPipeline(
            pool=pool,
            decoder=Decoder(codec),
            batch_max=n,
            max_delay_s=0.05,
            alerts=Intake(LiveDetector(pool), Dispatcher(DispatchPolicy())),
        )
        writes = 0
        write = pipeline._write

        async def counted(*args: object) -> object:
            nonlocal writes
            writes += 1
            return await write(*args)  # type: ignore[arg-type]

        pipeline._write = counted  # type: ignore[method-assign,assignment]
        result = await pipeline._store(messages, set())
    return writes, result
