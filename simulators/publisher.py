"""Publish over real MQTT with QoS 1, counting only what the broker acknowledged."""

import json
import threading
from collections import Counter, deque
from collections.abc import Mapping

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

# paho numbers messages with 16-bit ids: never have anywhere near 65535 outstanding.
MAX_OUTSTANDING = 10_000


class Publisher:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        protocol: str = "5",
    ) -> None:
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.max_inflight_messages_set(1000)
        self._connected = threading.Event()
        self._client.on_connect = lambda *_: self._connected.set()
        self._host, self._port = host, port
        self._outstanding: deque[tuple[str, mqtt.MQTTMessageInfo]] = deque()
        self.acknowledged: Counter[str] = Counter()

    def __enter__(self) -> "Publisher":
        self._client.connect(self._host, self._port, keepalive=30)
        self._client.loop_start()
        if not self._connected.wait(10):
            msg = f"no CONNACK from broker {self._host}:{self._port}"
            raise ConnectionError(msg)
        return self

    def __exit__(self, *_: object) -> None:
        self.flush()
        self._client.disconnect()
        self._client.loop_stop()

    def publish(
        self,
        topic: str,
        payload: Mapping[str, object] | bytes,
        channel: str,
        *,
        retain: bool = False,
    ) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        info = self._client.publish(topic, data, qos=1, retain=retain)
        self._outstanding.append((channel, info))
        while len(self._outstanding) > MAX_OUTSTANDING:
            self._settle_oldest()

    def flush(self, timeout: float = 60) -> None:
        while self._outstanding:
            self._settle_oldest(timeout)

    def _settle_oldest(self, timeout: float = 60) -> None:
        channel, info = self._outstanding.popleft()
        info.wait_for_publish(timeout)
        if info.is_published():
            self.acknowledged[channel] += 1
