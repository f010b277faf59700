"""Broker -> ingest -> TimescaleDB, against the real processes."""

import json
import re
import time

import httpx
import psycopg

from simulators.publisher import Publisher
from testbed.services import Mosquitto
from tests.conftest import ServeProcess, register, wait_until


def count(db: psycopg.Connection, sql: str) -> int:
    row = db.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def publisher(broker: Mosquitto) -> Publisher:
    return Publisher("127.0.0.1", broker.port, client_id=f"test-pub-{time.monotonic_ns()}")


def test_every_published_reading_is_stored_once(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    devices = [f"w{i}" for i in range(20)]
    register(db, *devices)
    serve.start()
    with publisher(broker) as pub:
        for seq in range(100):
            for d in devices:
                pub.publish(
                    f"anxin/v1/{d}/vitals",
                    {"ts": 1_700_000_000 + seq, "seq": seq, "hr": 60 + seq % 30, "spo2": 97},
                    "vitals",
                )
            pub.publish(
                "anxin/v1/w0/location",
                {"ts": 1_700_000_000 + seq, "seq": seq, "lat": 30.59, "lon": 114.30},
                "location",
            )
        pub.publish("anxin/v1/w1/status", {"online": True, "battery": 80}, "status")
    assert pub.acknowledged == {"vitals": 2000, "location": 100, "status": 1}
    wait_until(
        lambda: count(db, "SELECT count(*) FROM vitals") >= 2000,
        timeout=30,
        what="2000 vitals rows",
    )
    wait_until(
        lambda: count(db, "SELECT count(*) FROM device_status") >= 1, timeout=10, what="status row"
    )
    assert count(db, "SELECT count(*) FROM vitals") == 2000
    assert count(db, "SELECT count(DISTINCT (device_id, seq)) FROM vitals") == 2000
    assert count(db, "SELECT count(*) FROM locations") == 100
    assert count(db, "SELECT count(*) FROM dead_letters") == 0


def messages_taken(serve: ServeProcess) -> float:
    text = httpx.get(f"{serve.base_url}/metrics", timeout=5).text
    match = re.search(r"^anxin_ingest_messages_total (\S+)", text, re.M)
    assert match, text
    return float(match[1])


def test_committed_messages_are_acknowledged_and_not_delivered_again(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    # The PUBACKs of a batch leave in one write; if the broker did not take them as
    # acknowledgements, it would deliver the batch again to the next process.
    register(db, "w1")
    serve.start()
    with publisher(broker) as pub:
        for seq in range(500):
            pub.publish(
                "anxin/v1/w1/vitals", {"ts": 1_700_000_000 + seq, "seq": seq, "hr": 70}, "vitals"
            )
    wait_until(lambda: count(db, "SELECT count(*) FROM vitals") == 500, timeout=30, what="500 rows")
    serve.stop()
    serve.start()
    with publisher(broker) as pub:  # queued behind anything the broker would redeliver
        pub.publish("anxin/v1/w1/vitals", {"ts": 1_700_001_000, "seq": 500, "hr": 70}, "vitals")
    wait_until(lambda: count(db, "SELECT count(*) FROM vitals") == 501, timeout=30, what="row 501")
    assert messages_taken(serve) == 1


def test_sos_is_alerted_once_after_redelivery(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    register(db, "btn1", kind="sos_button")
    serve.start()
    press = {"ts": time.time(), "type": "sos", "id": "press-42"}
    with publisher(broker) as pub:
        # The same press twice, exactly as a redelivery after a lost PUBACK looks.
        pub.publish("anxin/v1/btn1/event", press, "event")
        pub.publish("anxin/v1/btn1/event", press, "event")
        pub.publish("anxin/v1/btn1/event", {**press, "id": "press-43"}, "event")
    wait_until(
        lambda: count(db, "SELECT count(*) FROM alert_findings") >= 2, timeout=10, what="alerts"
    )
    time.sleep(0.5)
    # two presses taken once each: one alert of one incident, counted twice
    rows = db.execute("SELECT rule, severity, count FROM alerts ORDER BY id").fetchall()
    assert rows == [("sos", "P1", 2)]
    assert count(db, "SELECT count(*) FROM alert_findings") == 2
    assert count(db, "SELECT count(*) FROM incidents") == 1
    assert count(db, "SELECT count(*) FROM events") == 2


def test_sos_is_not_held_by_the_batch_timer(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    register(db, "btn1", kind="sos_button")
    # A batch timer of a minute: only the fast path can store the press in time.
    serve.env["ANXIN_BATCH_MAX_DELAY_MS"] = "60000"
    serve.start()
    with publisher(broker) as pub:
        sent = time.monotonic()
        pub.publish("anxin/v1/btn1/event", {"ts": time.time(), "type": "fall"}, "event")
    wait_until(
        lambda: count(db, "SELECT count(*) FROM alert_findings") == 1, timeout=5, what="fall alert"
    )
    assert time.monotonic() - sent < 5


def test_a_clean_stop_writes_what_it_holds_at_once_not_at_the_batch_timer(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    register(db, "w1")
    serve.env["ANXIN_BATCH_MAX_DELAY_MS"] = "60000"  # a minute: stopping must not wait for it
    serve.start()
    with publisher(broker) as pub:
        for k in range(5):
            pub.publish("anxin/v1/w1/vitals", {"ts": time.time() - k, "hr": 70 + k}, "vitals")
    held = '{lane="readings"}'
    wait_until(
        lambda: metric(serve, "anxin_ingest_pending_messages").get(held) == 5,
        timeout=10,
        what="five readings held",
    )
    serve.stop()  # within its drain limit (10 s), well before the timer
    assert count(db, "SELECT count(*) FROM vitals") == 5


def test_smoke_gas_and_water_alarms_take_the_fast_path(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    register(db, "smk1", kind="smoke")
    register(db, "gas1", kind="gas")
    register(db, "wat1", kind="water")
    serve.env["ANXIN_BATCH_MAX_DELAY_MS"] = "60000"
    serve.start()
    with publisher(broker) as pub:
        for device, event in (("smk1", "smoke"), ("gas1", "gas"), ("wat1", "water_leak")):
            pub.publish(f"anxin/v1/{device}/event", {"ts": time.time(), "type": event}, "event")
    wait_until(
        lambda: count(db, "SELECT count(*) FROM alert_findings") == 3, timeout=5, what="alarms"
    )
    rows = db.execute("SELECT rule, severity FROM alerts ORDER BY rule").fetchall()
    assert rows == [("gas", "P1"), ("smoke", "P1"), ("water_leak", "P1")]


def test_bad_messages_are_dead_lettered_while_valid_traffic_flows(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    register(db, "w1")
    serve.start()
    now = time.time()
    bad = {
        "anxin/v1/w1/vitals": [
            b"\x00\xffnot json",
            b'{"ts": 1700000000, "hr": NaN}',
            b'{"ts": 1700000000, "hr": -5}',
            b'{"ts": 1700000000, "spo2": 140}',
            json.dumps({"ts": now + 3 * 86400, "hr": 70}).encode(),
            json.dumps({"ts": now, "hr": 70, "pad": "x" * 70_000}).encode(),
        ],
        "anxin/v1/ghost/vitals": [json.dumps({"ts": now, "hr": 70}).encode()],
        "anxin/v1/w1/weather": [b'{"ts": 1700000000}'],
    }
    with publisher(broker) as pub:
        seq = 0
        for topic, payloads in bad.items():
            for payload in payloads:
                pub.publish(topic, payload, "bad")
                for _ in range(5):
                    pub.publish("anxin/v1/w1/vitals", {"ts": now, "seq": seq, "hr": 70}, "good")
                    seq += 1
    wait_until(
        lambda: count(db, "SELECT count(*) FROM dead_letters") >= 8,
        timeout=15,
        what="8 dead letters",
    )
    wait_until(
        lambda: count(db, "SELECT count(*) FROM vitals") >= seq, timeout=15, what="all valid vitals"
    )
    reasons = db.execute(
        "SELECT reason_code, reason_values FROM dead_letters ORDER BY id"
    ).fetchall()
    assert len(reasons) == 8
    for expected in (
        ("not_utf8", {"channel": "vitals", "at": 1}),
        ("not_finite", {"channel": "vitals"}),
        ("field_out_of_range", {"channel": "vitals", "field": "hr", "value": -5, "min": 20,
                                "max": 300}),
        ("field_out_of_range", {"channel": "vitals", "field": "spo2", "value": 140, "min": 50,
                                "max": 100}),
        ("unknown_device", {"device_id": "ghost"}),
        ("unknown_channel", {"channel": "weather"}),
    ):  # fmt: skip
        assert expected in reasons, f"no dead letter says {expected!r}:\n{reasons}"
    codes = {code for code, _values in reasons}
    assert {"ts_future", "too_large"} <= codes
    assert count(db, "SELECT count(*) FROM vitals") == seq


def test_readyz_answers_only_when_database_and_subscription_are_up(
    db: psycopg.Connection, serve: ServeProcess
) -> None:
    import httpx

    serve.start()
    assert httpx.get(f"{serve.base_url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{serve.base_url}/readyz").status_code == 200
    metrics = httpx.get(f"{serve.base_url}/metrics").text
    assert "anxin_ingest_messages_total" in metrics


def metric(serve: ServeProcess, name: str) -> dict[str, float]:
    """Every sample of a metric, by its labels as written."""
    text = httpx.get(f"{serve.base_url}/metrics", timeout=5).text
    return {m[1]: float(m[2]) for m in re.finditer(rf"^{name}(\{{[^}}]*\}}) (\S+)$", text, re.M)}


def test_metrics_tell_emergency_alerts_from_detected_ones_and_pending_is_current(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    register(db, "w1")
    register(db, "btn1", kind="sos_button")
    serve.start()
    now = time.time()
    with publisher(broker) as pub:
        pub.publish("anxin/v1/btn1/event", {"ts": now, "type": "sos"}, "sos")
        for i in range(6):  # SpO2 82 % and a pulse of 150 for 2.5 min: NEWS2 high
            reading = {"ts": now - 150 + 30 * i, "seq": i, "hr": 150, "spo2": 82, "rr": 30}
            pub.publish("anxin/v1/w1/vitals", reading, "vitals")
    wait_until(
        lambda: count(db, "SELECT count(*) FROM alert_findings") >= 2, timeout=10, what="alerts"
    )
    opened = metric(serve, "anxin_ingest_alerts_opened_total")
    assert opened['{source="emergency"}'] == 1
    assert opened['{source="detector"}'] == count(db, "SELECT count(*) FROM alert_findings") - 1
    pending = metric(serve, "anxin_ingest_pending_messages")
    assert pending == {'{lane="events"}': 0.0, '{lane="readings"}': 0.0}


def test_an_unreachable_broker_is_said_once_promptly_and_again_with_its_length_when_back(
    broker: Mosquitto, serve: ServeProcess
) -> None:
    broker.stop()
    serve.start(wait_ready=False)
    away = f"cannot reach the broker at 127.0.0.1:{broker.port}"
    wait_until(lambda: away in serve.log(), timeout=5, what="the broker outage said")
    time.sleep(4)  # both lanes, several reconnect attempts: still one line
    assert serve.log().count(away) == 1, serve.log()
    broker.start()
    serve.wait_ready()
    wait_until(
        lambda: f"broker 127.0.0.1:{broker.port} back after" in serve.log(),
        timeout=10,
        what="the broker's return said",
    )
    back = [json.loads(line) for line in serve.log().splitlines() if "back after" in line]
    assert len(back) == 1
    assert float(back[0]["msg"].rsplit(" ", 1)[1].rstrip("s")) >= 4
