"""Commands to an MQTT device over a real broker and `anxin serve`: the device gets
them on its command topic, its command_result event is recorded as the answer, and a
command the broker cannot take is refused with 503 and recorded as not sent."""

import json
import threading
import time

import httpx
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from tests.anxin.test_cli import anxin
from tests.conftest import Mosquitto, ServeProcess, register, wait_until
from tests.ingest.test_end_to_end import publisher


def test_a_device_gets_its_command_and_its_answer_is_recorded(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess, anxin_env: dict[str, str]
) -> None:
    register(db, "band-1", kind="band")
    serve.start()
    made = anxin("users", "add", "ops", "--role", "operator", env=anxin_env)
    headers = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
    url = f"{serve.base_url}/api/v1/devices/band-1/commands"
    received: list[dict[str, object]] = []
    subscribed = threading.Event()
    device = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="band-1", protocol=mqtt.MQTTv5)
    device.on_subscribe = lambda *_: subscribed.set()
    device.on_message = lambda _c, _u, msg: received.append(json.loads(msg.payload))
    device.connect("127.0.0.1", broker.port)
    device.loop_start()
    try:
        device.subscribe("anxin/v1/band-1/cmd", qos=1)
        assert subscribed.wait(5)
        sent = httpx.post(url, headers=headers, json={"command": "set_interval", "interval_s": 120})
        assert sent.status_code == 202, sent.text
        command_id = sent.json()["id"]
        wait_until(lambda: bool(received), timeout=5, what="the command on the device's topic")
        assert received == [{"id": command_id, "command": "set_interval", "interval_s": 120}]
        with publisher(broker) as pub:
            result = {"command_id": command_id, "ok": False, "detail": "最短 300 秒"}
            answer = {"ts": time.time(), "type": "command_result", "data": result}
            pub.publish("anxin/v1/band-1/event", answer, "event")
            pub.flush()

        def answered() -> bool:
            listed = httpx.get(url, headers=headers).json()
            return listed[0]["answered_at"] is not None

        wait_until(answered, timeout=10, what="the answer recorded")
        (listed,) = httpx.get(url, headers=headers).json()
        assert (listed["ok"], listed["detail"]) == (False, "最短 300 秒")
    finally:
        device.disconnect()
        device.loop_stop()
    broker.stop()
    refused = httpx.post(url, headers=headers, json={"command": "locate"})
    assert refused.status_code == 503
    assert "not sent" in refused.json()["detail"]
    newest = httpx.get(url, headers=headers).json()[0]
    assert newest["command"] == "locate"
    assert newest["published_at"] is None
    assert newest["failed"].startswith("the broker did not take it")
