"""The MQTT side of ingest: one paho client, QoS 1, persistent session, manual PUBACK.

aiomqtt 2.5 cannot delay the PUBACK, and acknowledging only after commit is the
whole point, so this drives paho-mqtt 2.x directly: its network thread hands each
message over, and the pipeline calls `ack_all(mids)` once the batch has committed.
If the process dies before that, the broker redelivers the message (flagged dup).

paho stays in charge of the connection, keepalive, subscriptions and reconnects;
`IngestClient` only takes over the two steps paho makes per message that cost more
than the whole of ingest's own work on it (measured below).
"""

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from ingest.topics import shared

log = logging.getLogger("anxin.ingest.mqtt")

OnMessage = Callable[[str, bytes, int, int], None]

# A PUBACK with reason Success and no properties is four bytes, the same in MQTT 3.1.1
# and 5 (v5 3.4.2.1 lets both be left out) and the same that paho's ack() sends:
# type 0x40, remaining length 2, then the message id; so one big-endian uint32 each.
_PUBACK_HEAD = np.uint32((int(mqtt.PUBACK) << 24) | (2 << 16))


RECEIVE_CHUNK = 65536
# While the broker has sent more than the receive window, the socket is looked at
# this often (and paho's loop goes on writing, pinging and timing out meanwhile).
PAUSE_CHECK_S = 0.25

# Called on paho's thread with the raw topic, payload, message id and QoS.
Deliver = Callable[[bytes, bytes, int, int], None]


class IngestClient(mqtt.Client):
    """paho's client with a short path for the common PUBLISH and a batched PUBACK.

    For every MQTT v5 PUBLISH paho builds a `Properties` object, then an
    `MQTTMessage` with its own `threading.Condition`, then matches the topic against
    per-filter callbacks; and it reads each packet with three recv() calls. A QoS 1
    PUBLISH without properties, which is what devices send, goes straight to
    `deliver` here; anything else (QoS 0, properties, a malformed packet) takes
    paho's own path and arrives the same way. Measured by `bench.ingest` on a 2-core
    machine, a consumer that only counts: paho as shipped 11,600 messages/s at 86 µs
    of CPU each, this client 134,769 messages/s at 7.3 µs.

    With `receive_maximum`, it also keeps the broker to that window itself: it stops
    reading while more QoS 1 messages than that are unacknowledged. Mosquitto 2.0.11
    (Debian 12's) sends a whole window more after any PUBACK, so a backlog came in
    entire: 86,000 messages held in memory in a 100,000-message bench, and millions
    after a long outage.

    This overrides paho internals (`_handle_publish`, `_sock_recv`, `_in_packet`,
    `_packet_queue`); pyproject pins paho to the releases checked (2.1, 2.2), and
    every end-to-end test goes through here.
    """

    def __init__(
        self, deliver: Deliver, *, receive_maximum: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(CallbackAPIVersion.VERSION2, manual_ack=True, **kwargs)
        self.deliver = deliver
        self.on_message = self._deliver_message
        self._received = bytearray()  # read from the socket, not yet taken by paho
        self._received_from: object = None  # the socket it came from
        self._window = receive_maximum
        # QoS 1 messages delivered and acknowledged; each counter has one writing
        # thread (paho's, the acknowledging one), so they need no lock.
        self._delivered = 0
        self._acked = 0
        self._window_open = threading.Event()
        self.paused = False  # stop reading the socket (while stopping)

    def _over_window(self) -> bool:
        if self.paused:
            return True
        return self._window is not None and self._delivered - self._acked > self._window

    def all_acknowledged(self) -> bool:
        """Every QoS 1 message delivered so far has been acknowledged."""
        return self._delivered == self._acked

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        if self._over_window():
            self._window_open.clear()
            if self._over_window() and not self._window_open.wait(PAUSE_CHECK_S):
                return MQTTErrorCode.MQTT_ERR_SUCCESS
        rc = super().loop_read(max_packets)
        # paho reads one packet per select(); go on while whole packets are buffered,
        # or they would wait for the socket to be readable again.
        while (
            rc == MQTTErrorCode.MQTT_ERR_SUCCESS
            and self._received
            and self._sock is not None
            and not self._over_window()
        ):
            rc = super().loop_read(max_packets)
        return rc

    def loop_misc(self) -> MQTTErrorCode:
        # Packets left buffered by a pause are not announced by the socket; paho's
        # loop comes here after every wake-up, the one for the PUBACKs included.
        if self._received and self._sock is not None and not self._over_window():
            rc = self.loop_read()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return rc
        return super().loop_misc()

    def _sock_recv(self, bufsize: int) -> bytes:
        # paho asks for a packet's first byte, then its length byte by byte, then its
        # body: three recv() calls per message, each giving up the GIL. One recv()
        # of up to 64 KiB serves hundreds of messages instead.
        if self._received_from is not self._sock:  # a new connection: nothing is left
            self._received_from, self._received = self._sock, bytearray()
        if not self._received:
            chunk = super()._sock_recv(RECEIVE_CHUNK)
            if len(chunk) <= bufsize:
                return chunk
            self._received += chunk
        taken = bytes(self._received[:bufsize])
        del self._received[:bufsize]
        return taken

    def ack_all(self, mids: Sequence[int]) -> None:
        """Acknowledge QoS 1 messages, in the order given, with one socket write.

        paho's ack() queues a packet, wakes its network thread and makes a send() per
        message: measured, that cost ingest more than the COPY of the same messages.
        Here the PUBACKs go to paho's outgoing queue as one buffer, which its network
        thread writes (resuming after a partial send) like any other packet. paho
        keeps no state for a QoS 1 message it has delivered, so there is none to
        update.
        """
        if mids:
            acks = (np.asarray(mids, np.uint32) | _PUBACK_HEAD).astype(">u4").tobytes()
            self._packet_queue(mqtt.PUBACK, acks, 0, 1)
            self._acked += len(mids)
            if not self._over_window():
                self._window_open.set()

    def _handle_publish(self) -> MQTTErrorCode:
        # Fixed header flags: bit 3 dup, bits 2-1 QoS, bit 0 retain. Then the topic
        # (2-byte length), the packet id (QoS > 0), in v5 the properties (a variable
        # byte integer length, 0 here being the single byte 0x00), then the payload.
        packet: bytearray = self._in_packet["packet"]
        if (self._in_packet["command"] >> 1) & 3 != 1:
            return super()._handle_publish()
        mid_at = 2 + int.from_bytes(packet[:2], "big")
        payload_at = mid_at + 2
        if self._protocol == mqtt.MQTTv5:
            if payload_at >= len(packet) or packet[payload_at] != 0:
                return super()._handle_publish()
            payload_at += 1
        elif payload_at > len(packet):
            return super()._handle_publish()
        mid = int.from_bytes(packet[mid_at : mid_at + 2], "big")
        self._delivered += 1
        self.deliver(bytes(packet[2:mid_at]), bytes(packet[payload_at:]), mid, 1)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _deliver_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.qos == 1:
            self._delivered += 1
        self.deliver(msg._topic, bytes(msg.payload), msg.mid, msg.qos)


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
    ) -> None:
        """`retired`: filters a persistent session of this id may still hold from an
        earlier version; dropped at connect, so nothing arrives twice."""
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
        self._client = IngestClient(
            self._deliver, receive_maximum=receive_maximum, client_id=client_id, **session
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        if tls:
            self._client.tls_set()
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
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

    def ack_all(self, mids: Sequence[int]) -> None:
        """Acknowledge committed QoS 1 messages, in arrival order."""
        self._client.ack_all(mids)

    def _handle_connect(
        self, client: mqtt.Client, _u: Any, flags: Any, reason: ReasonCode, _p: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
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
        self.subscribed.set()

    def _handle_disconnect(
        self, _c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any
    ) -> None:
        self.subscribed.clear()
        if self._connected_once and not self._stopping:
            log.warning("disconnected from broker (%s); paho reconnects with backoff", reason)

    def _deliver(self, topic: bytes, payload: bytes, mid: int, qos: int) -> None:
        self._on_message(topic.decode("utf-8", errors="replace"), payload, mid, qos)
