"""Every way a PUBLISH can reach ingest ends in the same stored row.

Ingest's MQTT client (ingest.mqtt_client.IngestClient) reads a QoS 1 PUBLISH without
properties itself and leaves every other shape to paho; these tests send the other
shapes, and the other protocol version, through a real broker.
"""

import json
import time

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from testbed.services import Mosquitto
from tests.conftest import ServeProcess, register, wait_until
from tests.ingest.test_end_to_end import count, publisher


def vitals(seq: int) -> bytes:
    return json.dumps({"ts": 1_700_000_000 + seq, "seq": seq, "hr": 60 + seq % 100}).encode()


def test_qos0_and_messages_with_v5_properties_are_stored_like_the_rest(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    register(db, "w1")
    serve.start()
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ContentType = "application/json"
    props.MessageExpiryInterval = 3600
    props.UserProperty = [("firmware", "2.4.1")]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        client.publish("anxin/v1/w1/vitals", vitals(0), qos=1).wait_for_publish(10)
        client.publish("anxin/v1/w1/vitals", vitals(1), qos=1, properties=props).wait_for_publish(
            10
        )
        client.publish("anxin/v1/w1/vitals", vitals(2), qos=0).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()
    wait_until(lambda: count(db, "SELECT count(*) FROM vitals") == 3, timeout=15, what="3 rows")
    rows = db.execute("SELECT seq, hr FROM vitals ORDER BY seq").fetchall()
    assert rows == [(0, 60), (1, 61), (2, 62)]
    assert count(db, "SELECT count(*) FROM dead_letters") == 0


def test_ingest_over_mqtt_3_1_1_stores_every_message_once(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    register(db, "w1", "w2")
    serve.env["ANXIN_MQTT_PROTOCOL"] = "3.1.1"
    serve.start()
    with publisher(broker) as pub:
        for seq in range(300):
            for device in ("w1", "w2"):
                pub.publish(f"anxin/v1/{device}/vitals", vitals(seq), "vitals")
    wait_until(lambda: count(db, "SELECT count(*) FROM vitals") >= 600, timeout=30, what="rows")
    time.sleep(0.5)  # anything stored twice would show up by now
    assert count(db, "SELECT count(*) FROM vitals") == 600
    assert count(db, "SELECT count(DISTINCT (device_id, seq)) FROM vitals") == 600


def test_anxin_serve_on_the_stock_client_stores_every_message_once_and_alerts(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    register(db, "w1")
    register(db, "btn1", kind="sos_button")
    serve.env["ANXIN_MQTT_CLIENT"] = "stock"
    serve.start()
    assert '"mqtt_client": "stock"' in serve.log()
    with publisher(broker) as pub:
        for seq in range(500):
            pub.publish("anxin/v1/w1/vitals", vitals(seq), "vitals")
        pub.publish("anxin/v1/btn1/event", {"ts": time.time(), "type": "sos"}, "sos")
    wait_until(lambda: count(db, "SELECT count(*) FROM vitals") >= 500, timeout=30, what="rows")
    wait_until(
        lambda: count(db, "SELECT count(*) FROM alert_findings") == 1, timeout=10, what="SOS"
    )
    time.sleep(0.5)
    assert count(db, "SELECT count(*) FROM vitals") == 500
