"""One device cannot take ingest's capacity: beyond its rate limit per channel its
messages are counted in a summary dead letter, not stored, and the device is flagged;
an emergency event still goes through."""

import time

import psycopg
import pytest

from ingest.ratelimit import RateLimiter
from testbed.services import Mosquitto
from tests.conftest import ServeProcess, register, wait_until
from tests.ingest.test_end_to_end import count, publisher


def test_a_device_gets_its_burst_then_its_rate() -> None:
    limiter = RateLimiter(rate_per_s=10, burst=100)
    passed = sum(limiter.allow("anxin/v1/w1/vitals", now=0.0) for _ in range(1_000))
    assert passed == 100
    passed = sum(limiter.allow("anxin/v1/w1/vitals", now=2.0) for _ in range(1_000))
    assert passed == 20
    # another device and another channel have buckets of their own
    assert limiter.allow("anxin/v1/w2/vitals", now=2.0)
    assert limiter.allow("anxin/v1/w1/status", now=2.0)


def test_an_emergency_over_the_limit_still_goes_through_once_a_second_per_type() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=1)
    topic = "anxin/v1/b1/event"
    assert limiter.allow(topic, now=0.0)
    assert not limiter.allow(topic, now=0.1)
    assert limiter.allow(topic, "sos", now=0.2)
    assert not limiter.allow(topic, "sos", now=0.3)
    assert limiter.allow(topic, "fall", now=0.4)
    assert limiter.allow(topic, "sos", now=1.25)


@pytest.mark.slow
def test_a_flooding_device_is_counted_in_one_summary_and_flagged_while_others_are_stored(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    register(db, "flood1", "w2")
    register(db, "btn1", kind="sos_button")
    serve.env.update({"ANXIN_DEVICE_BURST": "300", "ANXIN_DEVICE_RATE_PER_S": "5"})
    serve.start()
    flood, started = 4_000, time.monotonic()
    with publisher(broker) as pub:
        for seq in range(flood):
            pub.publish("anxin/v1/flood1/vitals", {"ts": time.time(), "seq": seq, "hr": 70}, "v")
            if seq % 40 == 0:
                pub.publish("anxin/v1/w2/vitals", {"ts": time.time(), "seq": seq, "hr": 70}, "w")
        for _ in range(1_000):  # a stuck button: events over its limit, then a press
            pub.publish("anxin/v1/btn1/event", {"ts": time.time(), "type": "button"}, "e")
        pub.publish("anxin/v1/btn1/event", {"ts": time.time(), "type": "sos", "id": "p"}, "sos")
    elapsed = time.monotonic() - started
    assert pub.acknowledged["v"] == flood
    wait_until(
        lambda: count(db, "SELECT count(*) FROM alert_findings") == 1, timeout=10, what="SOS"
    )

    def summarised(device: str) -> int:
        q = f"SELECT coalesce(sum(messages), 0) FROM dead_letters WHERE device_id = '{device}'"
        return count(db, q)

    stored = count(db, "SELECT count(*) FROM vitals WHERE device_id = 'flood1'")
    wait_until(lambda: summarised("flood1") == flood - stored, timeout=10, what="summary")
    assert 300 <= stored <= 300 + 5 * (elapsed + 2)
    assert count(db, "SELECT count(*) FROM dead_letters WHERE device_id = 'flood1'") == 1
    reason = db.execute(
        "SELECT reason_code, reason_values, reason FROM dead_letters WHERE device_id = 'flood1'"
    ).fetchone()
    assert reason is not None
    assert reason[:2] == ("over_limit", {"rate": 5.0, "burst": 300})
    assert "rate limit of 5 messages/s (burst 300)" in reason[2]
    assert count(db, "SELECT count(*) FROM vitals WHERE device_id = 'w2'") == flood // 40
    flagged = {r[0] for r in db.execute("SELECT id FROM devices WHERE over_limit_at IS NOT NULL")}
    assert flagged == {"flood1", "btn1"}
    wait_until(lambda: summarised("btn1") > 0, timeout=10, what="button summary")
