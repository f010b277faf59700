"""What the broker holds for ingest: across a broker restart, when an instance of a
share group stops, and when retained messages would be replayed."""

import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from simulators.mqttload import LoadPublisher, paced
from testbed.services import Mosquitto, free_port
from tests.conftest import ServeProcess, register, wait_until
from tests.ingest.test_end_to_end import count, messages_taken, publisher
from tests.ingest.test_faults import SteadyPublisher

pytestmark = pytest.mark.slow


def watches_and_a_button(db: psycopg.Connection, watches: int) -> list[str]:
    """Registers watches w0... and the SOS button btn1; returns the watches' ids."""
    devices = [f"w{i}" for i in range(watches)]
    register(db, *devices)
    register(db, "btn1", kind="sos_button")
    return devices


def test_a_graceful_broker_restart_loses_no_acknowledged_message_nor_the_sos_in_the_gap(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    devices = watches_and_a_button(db, 20)
    serve.start()  # default settings
    pub = SteadyPublisher(broker, devices, total=3_000, rate=1_000)
    pub.start()
    pub.join(30)
    assert pub.acknowledged == 3_000
    broker.stop()  # graceful: Mosquitto saves its sessions and queues
    broker.start()
    with publisher(broker) as sos:  # before ingest is back: only its session can hold it
        sos.publish("anxin/v1/btn1/event", {"ts": time.time(), "type": "sos", "id": "gap"}, "sos")
    assert sos.acknowledged["sos"] == 1
    wait_until(
        lambda: count(db, "SELECT count(*) FROM alert_findings") == 1, timeout=15, what="SOS"
    )
    wait_until(lambda: count(db, "SELECT count(*) FROM vitals") == 3_000, timeout=15, what="rows")
    assert count(db, "SELECT count(DISTINCT (device_id, seq)) FROM vitals") == 3_000


def test_a_broker_killed_while_ingest_keeps_up_loses_no_acknowledged_message_nor_the_sos(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    # Mosquitto writes sessions and queues only at its autosave: killed before its first
    # save since ingest subscribed, it would come back without ingest's sessions, and
    # drop everything until ingest re-subscribed. 12 s in, a 10 s autosave has run.
    watches_and_a_button(db, 50)
    serve.start()
    pub, button = LoadPublisher(broker.port, "kill-pub"), LoadPublisher(broker.port, "kill-btn")
    killed_at: list[float] = []

    def kill_once(elapsed: float) -> None:
        if elapsed >= 12 and not killed_at:
            killed_at.append(elapsed)
            broker.kill()
            broker.start()
            assert button.connect()
            button.publish(
                [("anxin/v1/btn1/event", b'{"ts": %.3f, "type": "sos"}' % time.time(), 0)]
            )

    def vitals(i: int) -> tuple[str, bytes, object]:
        return (
            f"anxin/v1/w{i % 50}/vitals",
            b'{"ts": %.3f, "seq": %d, "hr": 70}' % (time.time(), i),
            i,
        )

    paced(pub, 1_000, 14, vitals, on_tick=kill_once)
    time.sleep(1)
    acked = {tag for tag, _ in pub.acked}
    assert len(acked) > 12_000
    assert button.acked, "the broker did not acknowledge the SOS"
    wait_until(
        lambda: count(db, "SELECT count(*) FROM alert_findings") == 1, timeout=15, what="SOS"
    )
    wait_until(
        lambda: count(db, "SELECT count(*) FROM vitals") >= len(acked), timeout=20, what="rows"
    )
    stored = {r[0] for r in db.execute("SELECT seq FROM vitals")}
    assert acked <= stored


def test_an_instance_that_stops_cleanly_leaves_its_share_group(
    db: psycopg.Connection,
    broker: Mosquitto,
    serve: ServeProcess,
    tmp_path: Path,
) -> None:
    register(db, *[f"btn{i}" for i in range(6)], kind="sos_button")
    serve.env["ANXIN_MQTT_SHARE_GROUP"] = "anxin"
    port = free_port()
    other = ServeProcess(
        env={
            **serve.env,
            "ANXIN_MQTT_CLIENT_ID": f"ingest-{uuid.uuid4().hex[:8]}",
            "ANXIN_HTTP_PORT": str(port),
        },
        log_path=tmp_path / "other.log",
        http_port=port,
    )
    serve.start()
    other.start()
    other.stop()
    assert "anxin stopped" in other.log()  # stopped cleanly, not killed
    with publisher(broker) as pub:
        for i in range(6):
            pub.publish(f"anxin/v1/btn{i}/event", {"ts": time.time(), "type": "sos"}, "sos")
    wait_until(
        lambda: count(db, "SELECT count(*) FROM alert_findings") == 6, timeout=10, what="6 SOS"
    )


def test_a_retained_last_will_is_not_stored_again_at_each_restart(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    register(db, "w1")
    with publisher(broker) as pub:
        pub.publish("anxin/v1/w1/status", {"online": False}, "will", retain=True)
    serve.start()
    wait_until(lambda: count(db, "SELECT count(*) FROM device_status") == 1, timeout=10, what="1")
    for _ in range(2):
        serve.stop()
        serve.start()
    # a new session is sent the retained will again: it is the same status, stored once
    serve.stop()
    serve.env["ANXIN_MQTT_CLIENT_ID"] = f"ingest-{uuid.uuid4().hex[:8]}"
    serve.start()
    time.sleep(1.5)
    rows = db.execute("SELECT ts, online, battery FROM device_status ORDER BY ts").fetchall()
    assert len(rows) == 1, rows
    alerts = db.execute("SELECT opened_at, reason FROM alerts WHERE rule = 'offline'").fetchall()
    assert len(alerts) <= 1, alerts


def test_an_sos_is_alerted_while_readings_are_stuck_behind_a_slow_database(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess, database_url: str
) -> None:
    register(db, "w1")
    register(db, "btn1", kind="sos_button")
    serve.start()
    with psycopg.connect(database_url) as blocker:
        # every insert into vitals waits on this lock: readings pile up behind it
        blocker.execute("LOCK TABLE vitals IN EXCLUSIVE MODE")
        with publisher(broker) as pub:
            for seq in range(2_000):
                pub.publish("anxin/v1/w1/vitals", {"ts": time.time(), "seq": seq, "hr": 70}, "v")
            sent = time.monotonic()
            pub.publish("anxin/v1/btn1/event", {"ts": time.time(), "type": "sos"}, "sos")
        wait_until(
            lambda: count(db, "SELECT count(*) FROM alert_findings") == 1, timeout=5, what="SOS"
        )
        assert time.monotonic() - sent < 2
        assert count(db, "SELECT count(*) FROM vitals") == 0
    wait_until(lambda: count(db, "SELECT count(*) FROM vitals") == 2_000, timeout=15, what="rows")


def test_a_status_without_ts_sent_again_is_stored_once_whatever_its_battery_reads(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    # 47.123456789 does not fit the `real` column: the repeat must still be recognised
    register(db, "w1")
    serve.start()
    will = {"online": False, "battery": 47.123456789, "rssi": -70, "fw": "2.1"}
    with publisher(broker) as pub:
        pub.publish("anxin/v1/w1/status", will, "will")
    wait_until(lambda: count(db, "SELECT count(*) FROM device_status") == 1, timeout=10, what="1")
    with publisher(broker) as pub:
        pub.publish("anxin/v1/w1/status", will, "will")
        pub.publish("anxin/v1/w1/vitals", {"ts": time.time(), "hr": 70}, "after")
    wait_until(lambda: count(db, "SELECT count(*) FROM vitals") == 1, timeout=10, what="vitals")
    assert count(db, "SELECT count(*) FROM device_status") == 1


def test_a_session_left_by_an_earlier_version_stops_receiving_each_message_twice(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    # Earlier versions subscribed in share group `anxin` by default; the same session,
    # subscribed plainly as well, would be sent every message once for each.
    register(db, "w1")
    old = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=serve.env["ANXIN_MQTT_CLIENT_ID"],
        protocol=mqtt.MQTTv5,
    )
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    old.connect("127.0.0.1", broker.port, clean_start=False, properties=props)
    old.loop_start()
    old.subscribe("$share/anxin/anxin/v1/+/+", qos=1)
    time.sleep(0.5)
    old.disconnect()
    old.loop_stop()
    serve.start()
    with publisher(broker) as pub:
        for seq in range(100):
            pub.publish("anxin/v1/w1/vitals", {"ts": time.time(), "seq": seq, "hr": 70}, "v")
    wait_until(lambda: count(db, "SELECT count(*) FROM vitals") == 100, timeout=10, what="rows")
    time.sleep(0.5)
    assert messages_taken(serve) == 100
