"""A load generator that speaks just enough MQTT 3.1.1 to publish fast and count PUBACKs.

paho-mqtt tops out near 5,000 QoS 1 messages a second from one Python process on
these machines; the fault bench needs 20,000 from one device, and it and the broker
fault tests need the exact set of messages the broker acknowledged, across a broker
that is killed and comes back. This publisher encodes PUBLISH packets itself,
sends a tick's worth in one write, and a reader thread records each PUBACK. It is a
bench tool: no TLS, no keepalive, no resending after a reconnect (a message not
acknowledged before a disconnect counts as not acknowledged, which is what a device
would then resend).
"""

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable

from kernel import mqtt_wire

CONNECT_TIMEOUT_S = 5.0
WINDOW = 30_000  # unacknowledged messages at most (packet ids are 16-bit)


def connect_packet(client_id: str) -> bytes:
    return mqtt_wire.connect_packet(client_id)  # clean session, keepalive 0 (off)


def publish_packet(topic: str, payload: bytes, pid: int) -> bytes:
    body = mqtt_wire.text(topic) + struct.pack("!H", pid) + payload
    return b"\x32" + mqtt_wire.remaining_length(len(body)) + body  # PUBLISH, QoS 1


class LoadPublisher:
    """Publishes (topic, payload, tag) with QoS 1; `acked` collects the tags the broker
    acknowledged, with the time it did."""

    def __init__(self, port: int, client_id: str) -> None:
        self.port = port
        self.client_id = client_id
        self.acked: list[tuple[object, float]] = []
        self.sent = 0
        self._sock: socket.socket | None = None
        self._pending: dict[int, object] = {}
        self._next_pid = 1

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def connect(self) -> bool:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), CONNECT_TIMEOUT_S)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(connect_packet(self.client_id))
            connack = sock.recv(4)
        except OSError:
            return False
        if len(connack) != 4 or connack[0] != 0x20 or connack[3] != 0:
            sock.close()
            return False
        sock.settimeout(None)
        self._pending = {}
        self._sock = sock
        threading.Thread(target=self._read, args=(sock,), daemon=True).start()
        return True

    def publish(self, messages: Iterable[tuple[str, bytes, object]]) -> bool:
        """Send in one write; False (and disconnected) if the connection is gone."""
        sock = self._sock
        if sock is None:
            return False
        packets = []
        for topic, payload, tag in messages:
            while len(self._pending) >= WINDOW:
                time.sleep(0.001)
            pid = self._next_pid
            self._next_pid = pid % 65535 + 1
            self._pending[pid] = tag
            packets.append(publish_packet(topic, payload, pid))
        try:
            sock.sendall(b"".join(packets))
        except OSError:
            self._drop(sock)
            return False
        self.sent += len(packets)
        return True

    def outstanding(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        if self._sock is not None:
            self._drop(self._sock)

    def _drop(self, sock: socket.socket) -> None:
        if self._sock is sock:
            self._sock = None
        sock.close()

    def _read(self, sock: socket.socket) -> None:
        buf = b""
        pending = self._pending
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                self._drop(sock)
                return
            buf += chunk
            now = time.time()
            # PUBACKs are 4 bytes: 0x40 0x02 pid; the broker sends nothing else here
            whole = len(buf) - len(buf) % 4
            for i in range(0, whole, 4):
                if buf[i] == 0x40:
                    (pid,) = struct.unpack_from("!H", buf, i + 2)
                    tag = pending.pop(pid, None)
                    if tag is not None:
                        self.acked.append((tag, now))
            buf = buf[whole:]


def paced(
    pub: LoadPublisher,
    rate: float,
    seconds: float,
    make: Callable[[int], tuple[str, bytes, object]],
    *,
    tick_s: float = 0.01,
    on_tick: Callable[[float], None] | None = None,
) -> None:
    """Publish `rate` messages a second for `seconds`, reconnecting whenever the broker
    is away; message i is make(i). Messages due while it cannot be reached are skipped."""
    start = time.monotonic()
    done = 0
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate) - done
        if due > 0:
            if pub.connected or pub.connect():
                pub.publish(make(done + k) for k in range(due))
            done += due
        if on_tick is not None:
            on_tick(elapsed)
        time.sleep(tick_s)
