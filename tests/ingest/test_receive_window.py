"""Ingest holds no more unacknowledged messages than its receive window.

Mosquitto 2.0.11, the broker of Debian 12 and of these tests, sends another whole
window after any PUBACK, so the limit has to be kept by the client itself: otherwise
a backlog after an outage would be read into memory entire.
"""

import threading
import time
from functools import partial

import pytest

from ingest.consumer import MqttConsumer
from ingest.mqtt_client import ClientKind
from testbed.services import Mosquitto
from tests.conftest import wait_until
from tests.ingest.test_end_to_end import publisher

WINDOW = 500
BACKLOG = 3000


@pytest.mark.parametrize("client", ["fast", "stock"])
def test_consumer_stops_reading_at_its_receive_window_and_resumes_after_acks(
    broker: Mosquitto, client: ClientKind
) -> None:
    received: list[int] = []
    lock = threading.Lock()

    def on_message(_topic: str, _payload: bytes, mid: int, _qos: int) -> None:
        with lock:
            received.append(mid)

    consumer = MqttConsumer(
        host="127.0.0.1",
        port=broker.port,
        client_id="window-test",
        subscriptions=["anxin/v1/+/vitals"],
        on_message=on_message,
        receive_maximum=WINDOW,
        client=client,
    )
    assert consumer.client_kind == client
    consumer.start()
    try:
        assert consumer.subscribed.wait(10)
        with publisher(broker) as pub:
            for seq in range(BACKLOG):
                pub.publish("anxin/v1/w1/vitals", {"ts": 1_700_000_000, "seq": seq}, "vitals")
        wait_until(lambda: len(received) >= WINDOW, timeout=10, what="a full window")

        consumer.ack_all(received[:10])  # the broker now sends far more than 10
        with publisher(broker) as pub:  # a round trip, so whatever it sent has arrived
            pub.publish("anxin/v1/w2/vitals", {"ts": 1_700_000_000, "seq": 0}, "vitals")
        time.sleep(1.0)
        assert len(received) <= WINDOW + 10 + 1

        def arrived_beyond(n: int) -> bool:
            return len(received) > n or n >= BACKLOG + 1

        acked = 10
        while acked < BACKLOG + 1:
            with lock:
                batch = received[acked:]
            consumer.ack_all(batch)
            acked += len(batch)
            wait_until(
                partial(arrived_beyond, acked),
                timeout=10,
                what=f"more than {acked} of {BACKLOG + 1} messages",
            )
    finally:
        consumer.stop()
    assert len(received) == BACKLOG + 1
