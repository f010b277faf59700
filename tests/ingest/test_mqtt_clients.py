"""The fast MQTT client and paho's stock path hand ingest the same messages; the fast
one checks at start-up that the paho internals it overrides are there."""

import logging
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest import mqtt_client
from ingest.consumer import MqttConsumer
from ingest.mqtt_client import ClientKind, missing_hooks
from testbed.services import Mosquitto
from tests.conftest import wait_until

Received = list[tuple[str, bytes, int]]


def shapes() -> list[tuple[str, bytes, int, Properties | None]]:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ContentType = "application/json"
    props.UserProperty = [("firmware", "2.4.1")]
    return [
        ("anxin/v1/w1/vitals", b'{"hr": 70}', 1, None),  # what devices send
        ("anxin/v1/w1/vitals", b'{"qos": 0}', 0, None),
        ("anxin/v1/w1/vitals", b'{"props": 1}', 1, props),
        ("anxin/v1/w1/event", b"x" * 150_000, 1, None),
        ("anxin/v1/w1/status", b"", 1, None),
        ("anxin/v1/客厅传感器/vitals", '{"室": "客厅"}'.encode(), 1, None),
    ]


def consume(broker: Mosquitto, client: ClientKind, protocol: str) -> tuple[MqttConsumer, Received]:
    received: Received = []
    lock = threading.Lock()
    consumer: MqttConsumer

    def on_message(topic: str, payload: bytes, mid: int, qos: int) -> None:
        with lock:
            received.append((topic, payload, qos))
        if qos == 1:
            consumer.ack_all([mid])

    consumer = MqttConsumer(
        host="127.0.0.1",
        port=broker.port,
        client_id=f"clients-{client}-{protocol}",
        subscriptions=["anxin/v1/+/+"],
        on_message=on_message,
        protocol=protocol,
        client=client,
    )
    consumer.start()
    assert consumer.subscribed.wait(10)
    return consumer, received


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_fast_and_stock_clients_hand_over_the_same_messages(
    broker: Mosquitto, protocol: str
) -> None:
    fast, by_fast = consume(broker, "fast", protocol)
    stock, by_stock = consume(broker, "stock", protocol)
    assert (fast.client_kind, stock.client_kind) == ("fast", "stock")
    sent = shapes()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    try:
        for topic, payload, qos, props in sent:
            pub.publish(topic, payload, qos=qos, properties=props).wait_for_publish(10)
        wait_until(
            lambda: len(by_fast) == len(by_stock) == len(sent), timeout=10, what="every shape"
        )
    finally:
        pub.disconnect()
        pub.loop_stop()
        fast.stop()
        stock.stop()
    expected = [(topic, payload, qos) for topic, payload, qos, _ in sent]
    assert by_fast == expected
    assert by_stock == expected
    # The short path ran for every QoS 1 PUBLISH without properties (over 3.1.1 there
    # are none): if a paho release stopped calling the override, this count says so.
    assert fast.fast_deliveries == (4 if protocol == "5" else 5)
    assert stock.fast_deliveries == 0


def test_this_paho_has_every_hook_the_fast_client_needs() -> None:
    assert missing_hooks() == []


def test_a_paho_without_the_hooks_is_named_and_the_consumer_falls_back_to_stock(
    broker: Mosquitto, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class RenamedInternals:  # a paho whose release renamed what the fast client needs
        def _handle_publish_v2(self) -> None: ...
        def _sock_recv(self, size: int) -> bytes: ...
        def _packet_queue(self, command: int, packet: bytes, mid: int, qos: int) -> None: ...

    assert missing_hooks(RenamedInternals) == ["_handle_publish", "_sock_recv(bufsize)"]
    monkeypatch.setattr(mqtt_client, "missing_hooks", lambda: ["_handle_publish"])
    with caplog.at_level(logging.WARNING, logger="anxin.ingest.mqtt"):
        consumer, received = consume(broker, "fast", "5")
    try:
        assert consumer.client_kind == "stock"
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "_handle_publish" in warnings[0]
        assert "using the stock client" in warnings[0]
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        pub.publish("anxin/v1/w1/vitals", b"{}", qos=1).wait_for_publish(10)
        pub.disconnect()
        pub.loop_stop()
        wait_until(lambda: len(received) == 1, timeout=10, what="the message")
    finally:
        consumer.stop()
