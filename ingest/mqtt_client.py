"""ingest's MQTT clients: paho with manual PUBACK, a bounded receive window, and
(the fast one) a short path for the common PUBLISH.

`ANXIN_MQTT_CLIENT=fast` (the default) takes over two of paho's private steps per
message, which cost more than the whole of ingest's own work on it; `stock` uses only
paho's public API (on_message, ack) and is the way back if a paho release changes
those internals. At start-up `make_client` checks the private names the fast client
needs and falls back to stock, with one warning, if any is missing or changed.
"""

import inspect
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

log = logging.getLogger("anxin.ingest.mqtt")

ClientKind = Literal["fast", "stock"]

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


class WindowedClient(mqtt.Client):
    """paho's client with manual PUBACK that keeps the broker to a receive window.

    With `receive_maximum`, it stops reading while more QoS 1 messages than that are
    unacknowledged. Mosquitto 2.0.11 (Debian 12's) sends a whole window more after
    any PUBACK, so a backlog came in entire: 86,000 messages held in memory in a
    100,000-message bench, and millions after a long outage. `loop_read` and
    `loop_misc` are paho's public loop steps, which its network thread calls.
    """

    kind: ClientKind

    def __init__(
        self, deliver: Deliver, *, receive_maximum: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(CallbackAPIVersion.VERSION2, manual_ack=True, **kwargs)
        self.deliver = deliver
        self.on_message = self._deliver_message
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

    def _window_allows_reading(self) -> bool:
        if self._over_window():
            self._window_open.clear()
            if self._over_window() and not self._window_open.wait(PAUSE_CHECK_S):
                return False
        return True

    def _note_acked(self, n: int) -> None:
        self._acked += n
        if not self._over_window():
            self._window_open.set()

    def ack_all(self, mids: Sequence[int]) -> None:
        raise NotImplementedError

    def _deliver_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.qos == 1:
            self._delivered += 1
        try:
            topic = msg.topic.encode()
        except UnicodeDecodeError:  # MQTT forbids it and Mosquitto refuses it; if not:
            topic = b"(topic not UTF-8)"  # dead-lettered as a bad topic
        self.deliver(topic, bytes(msg.payload), msg.mid, msg.qos)


class StockClient(WindowedClient):
    """paho's public API only: every message through `on_message`, a PUBACK each."""

    kind: ClientKind = "stock"

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        if not self._window_allows_reading():
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super().loop_read(max_packets)

    def ack_all(self, mids: Sequence[int]) -> None:
        for mid in mids:
            self.ack(mid, 1)
        self._note_acked(len(mids))


class IngestClient(WindowedClient):
    """paho's client with a short path for the common PUBLISH and a batched PUBACK.

    For every MQTT v5 PUBLISH paho builds a `Properties` object, then an
    `MQTTMessage` with its own `threading.Condition`, then matches the topic against
    per-filter callbacks; and it reads each packet with three recv() calls. A QoS 1
    PUBLISH without properties, which is what devices send, goes straight to
    `deliver` here; anything else (QoS 0, properties, a malformed packet) takes
    paho's own path and arrives the same way. Measured by `bench.ingest` on a 2-core
    machine, a consumer that only counts: paho as shipped 11,600 messages/s at 86 µs
    of CPU each, this client 134,769 messages/s at 7.3 µs.

    This overrides paho internals (`_handle_publish`, `_sock_recv`, `_in_packet`,
    `_packet_queue`); pyproject pins paho to the releases checked (2.1, 2.2),
    `make_client` checks them at start-up, and every end-to-end test goes through
    here, one of them counting that the short path ran (`fast_deliveries`).
    """

    kind: ClientKind = "fast"

    def __init__(
        self, deliver: Deliver, *, receive_maximum: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(deliver, receive_maximum=receive_maximum, **kwargs)
        self._received = bytearray()  # read from the socket, not yet taken by paho
        self._received_from: object = None  # the socket it came from
        self.fast_deliveries = 0  # messages the short path took (a test watches it)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        if not self._window_allows_reading():
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
            self._note_acked(len(mids))

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
        self.fast_deliveries += 1
        self.deliver(bytes(packet[2:mid_at]), bytes(packet[payload_at:]), mid, 1)
        return MQTTErrorCode.MQTT_ERR_SUCCESS


# What the fast client takes over, with the parameters it calls them with.
_PRIVATE_METHODS = {
    "_handle_publish": ["self"],
    "_sock_recv": ["self", "bufsize"],
    "_packet_queue": ["self", "command", "packet", "mid", "qos"],
}


def missing_hooks(client_class: type = mqtt.Client) -> list[str]:
    """The paho internals `IngestClient` needs that this paho lacks or has changed."""
    missing = []
    for name, params in _PRIVATE_METHODS.items():
        method = getattr(client_class, name, None)
        if method is None:
            missing.append(name)
            continue
        if list(inspect.signature(method).parameters)[: len(params)] != params:
            missing.append(f"{name}({', '.join(params[1:])})")
    return missing


def _missing_state(client: mqtt.Client) -> list[str]:
    """The instance state the fast path reads, as this paho sets it up."""
    missing = [name for name in ("_sock", "_protocol") if not hasattr(client, name)]
    packet = getattr(client, "_in_packet", None)
    if not isinstance(packet, dict) or not {"command", "packet"} <= packet.keys():
        missing.append("_in_packet['command'/'packet']")
    return missing


def make_client(kind: ClientKind, deliver: Deliver, **kwargs: Any) -> WindowedClient:
    """The client asked for; stock, with one warning, if the fast one cannot run on
    the paho installed."""
    if kind == "stock":
        return StockClient(deliver, **kwargs)
    missing = missing_hooks()
    if not missing:
        client = IngestClient(deliver, **kwargs)
        missing = _missing_state(client)
        if not missing:
            return client
    log.warning(
        "paho-mqtt %s lacks what the fast MQTT client needs (%s): using the stock client,"
        " which is correct but slower (ANXIN_MQTT_CLIENT=stock silences this)",
        getattr(mqtt, "__version__", "?"),
        ", ".join(missing),
    )
    return StockClient(deliver, **kwargs)
