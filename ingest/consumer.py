"""The MQTT side of ingest: one paho client, QoS 1, persistent session, manual PUBACK.

aiomqtt 2.5 cannot delay the PUBACK, and acknowledging only after commit is the
whole point, so this drives paho-mqtt 2.x directly: its network thread hands each
message over, and the pipeline calls `ack_all(mids)` once the batch has committed.
If the process dies before that, the broker redelivers the message (flagged dup).

paho stays in charge of the connection, keepalive, subscriptions and reconnects;
which client reads the messages (fast or stock) is `ingest.mqtt_client`'s business.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from ingest.mqtt_client import ClientKind, make_client
from ingest.topics import shared
from kernel.outage import OutageLog

log = logging.getLogger("anxin.ingest.mqtt")

OnMessage = Callable[[str, bytes, int, int], None]


class MqttConsumer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        client_id: str,
        subscriptions: Sequence[str],
        on_message: OnMessage,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        protocol: str = "5",
        session_expiry_s: int = 7 * 24 * 3600,
        receive_maximum: int = 20000,
        share_group: str = "",
        retired: Sequence[str] = (),
        client: ClientKind = "fast",
        outage: OutageLog | None = None,
    ) -> None:
        """`retired`: filters a persistent session of this id may still hold from an
        earlier version; dropped at connect, so nothing arrives twice. `outage`: told
        when the broker cannot be reached and when it is back (one log for the
        service's connections, so an outage is said once)."""
        self.outage = outage or broker_outage(host, port)
        self.host, self.port = host, port
        self._share_group = share_group
        self.subscriptions = [shared(s, share_group) for s in subscriptions]
        self._retired = [f for f in retired if f not in self.subscriptions]
        self._on_message = on_message
        self._v5 = protocol == "5"
        self._session_expiry_s = session_expiry_s
        self._receive_maximum = receive_maximum
        # Set once the broker has acknowledged every subscription of this connection.
        self.subscribed = threading.Event()
        # v5 keeps the session through SessionExpiryInterval at connect (see start).
        session: dict[str, Any] = (
            {"protocol": mqtt.MQTTv5}
            if self._v5
            else {"protocol": mqtt.MQTTv311, "clean_session": False}
        )
        self._client = make_client(
            client, self._deliver, receive_maximum=receive_maximum, client_id=client_id, **session
        )
        self.client_kind: ClientKind = self._client.kind
        if username is not None:
            self._client.username_pw_set(username, password)
        if tls:
            self._client.tls_set()
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_connect_fail = self._handle_connect_fail
        self._client.on_subscribe = self._handle_subscribe
        self._connected_once = False
        self._stopping = False

    def start(self) -> None:
        if self._v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self._session_expiry_s
            props.ReceiveMaximum = self._receive_maximum
            self._client.connect_async(
                self.host, self.port, keepalive=30, clean_start=False, properties=props
            )
        else:
            self._client.connect_async(self.host, self.port, keepalive=30)
        self._client.loop_start()

    def stop_taking(self) -> None:
        """The first step of a clean stop: take no new messages. In a share group the
        subscriptions are dropped, so the broker sends the rest of the stream to the
        other members; alone, the session keeps them and the broker queues for it."""
        if self._share_group:
            self._client.unsubscribe(self.subscriptions)
        else:
            self._client.paused = True

    def all_acknowledged(self) -> bool:
        return self._client.all_acknowledged()

    def stop(self) -> None:
        """Disconnect. A member of a share group ends its session (expiry 0), so no
        later message is queued for it; alone, the session stays for the restart."""
        self._stopping = True
        if self._share_group and self._v5:
            props = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 0
            self._client.disconnect(properties=props)
        else:
            self._client.disconnect()
        self._client.loop_stop()
        self.subscribed.clear()

    async def publish(self, topic: str, payload: bytes, timeout_s: float = 5.0) -> None:
        """Publish at QoS 1 on this connection and wait for the broker's PUBACK;
        ConnectionError if not connected, TimeoutError if no PUBACK in time."""
        if not self._client.is_connected():
            msg = f"not connected to the broker at {self.host}:{self.port}"
            raise ConnectionError(msg)
        info = self._client.publish(topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(mqtt.error_string(info.rc))
        deadline = time.monotonic() + timeout_s
        while not info.is_published():
            if time.monotonic() > deadline:
                msg = f"the broker did not acknowledge within {timeout_s:g} s"
                raise TimeoutError(msg)
            await asyncio.sleep(0.01)

    @property
    def fast_deliveries(self) -> int:
        """Messages the fast client's short path took (0 for the stock client)."""
        return int(getattr(self._client, "fast_deliveries", 0))

    def ack_all(self, mids: Sequence[int]) -> None:
        """Acknowledge committed QoS 1 messages, in arrival order."""
        self._client.ack_all(mids)

    def _handle_connect(
        self, client: mqtt.Client, _u: Any, flags: Any, reason: ReasonCode, _p: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        self.outage.succeeded()
        log.info(
            "connected to broker %s:%s (session present: %s)",
            self.host,
            self.port,
            flags.session_present,
        )
        self._connected_once = True
        if flags.session_present and self._retired:
            log.info("dropping subscriptions left by an earlier version: %s", self._retired)
            client.unsubscribe(self._retired)
        if self._v5:
            # A retained message is sent only when a subscription is new, not again at
            # every reconnect of the same session (retained last wills replayed at each
            # restart opened an `offline` alert every time).
            options = SubscribeOptions(
                qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB
            )
            client.subscribe([(topic, options) for topic in self.subscriptions])
        else:
            client.subscribe([(topic, 1) for topic in self.subscriptions])

    def _handle_subscribe(
        self, _c: mqtt.Client, _u: Any, _mid: int, reasons: list[ReasonCode], _p: Any
    ) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        if failed:
            log.error("broker refused subscriptions %s: %s", self.subscriptions, failed)
            return
        if not self.subscribed.is_set():
            log.info("subscribed to %s", ", ".join(self.subscriptions))
        self.subscribed.set()

    def _handle_disconnect(
        self, _c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any
    ) -> None:
        self.subscribed.clear()
        if self._connected_once and not self._stopping:
            log.warning("disconnected from broker (%s); paho reconnects with backoff", reason)

    def _handle_connect_fail(self, _c: mqtt.Client, _u: Any) -> None:
        # paho could not open the connection (refused, unreachable, timed out): said once
        # per outage, at the first failed attempt, and again with its length when back
        if not self._stopping:
            self.outage.failed(None, attempt_started=time.monotonic())

    def _deliver(self, topic: bytes, payload: bytes, mid: int, qos: int) -> None:
        self._on_message(topic.decode("utf-8", errors="replace"), payload, mid, qos)


def broker_outage(host: str, port: int) -> OutageLog:
    return OutageLog(
        log, away=f"cannot reach the broker at {host}:{port}", back=f"broker {host}:{port} back"
    )
