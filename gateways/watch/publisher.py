"""Publishing into the broker from asyncio with QoS 1, fast: each publish is a future
that completes when the broker has the message (its PUBACK), so a gateway answers a
device only once that is so.

MQTT 3.1.1, publish only: CONNECT (client id, user, password, TLS), PUBLISH QoS 1,
PUBACK, PINGREQ. Not paho: paho's per-message path (a lock, a packet object, a
callback from its thread into the loop) held a publisher to ~5,000 messages a second
on these machines (simulators/mqttload.py), and a gateway at 20,000 watch frames a
second publishes three messages a frame. Here a loop turn's packets go out in one
write and a PUBACK is four bytes read in place.

Messages not acknowledged when the connection drops are sent again (DUP set) once it is
back; while it is away they are held, up to MAX_QUEUED, beyond which a publish fails at
once (the device is not answered, so it sends again).
"""

import asyncio
import contextlib
import logging
import ssl
import struct
from collections import deque
from collections.abc import Callable

from kernel.mqtt_wire import connect_packet, remaining_length, text
from kernel.os_words import os_reason

log = logging.getLogger("anxin.gateway.mqtt")

MAX_QUEUED = 100_000  # messages held unacknowledged, connected or not
WINDOW = 20_000  # of them in flight at once (packet ids are 16-bit)
TOPICS_KEPT = 100_000
SLOW_AT = 50_000  # a backlog that asks the gateway to stop reading its devices
KEEPALIVE_S = 30
RETRY_S = (0.5, 1.0, 2.0, 5.0)


class BrokerGone(ConnectionError):
    pass


_PUBACK = struct.Struct("!BBH")
_PUBACKS = b"\x40" * 65536


class _Wire(asyncio.Protocol):
    """One connection: hands PUBACKs and the CONNACK to the publisher."""

    def __init__(self, owner: "BrokerOut") -> None:
        self.owner = owner
        self.held = b""
        self.connack: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if not self.held and len(data) % 4 == 0 and data[::4] == _PUBACKS[: len(data) // 4]:
            # the usual read: nothing but PUBACKs, four bytes each
            acked = self.owner._acked
            for _kind, _size, pid in _PUBACK.iter_unpack(data):
                acked(pid)
            return
        buf = self.held + data
        k = 0
        while len(buf) - k >= 2:
            kind, size, head = buf[k], 0, 1
            shift = 0
            while True:  # the remaining length, 1 to 4 bytes
                if k + head >= len(buf):
                    self.held = buf[k:]
                    return
                byte = buf[k + head]
                size |= (byte & 0x7F) << shift
                head += 1
                shift += 7
                if not byte & 0x80:
                    break
            if len(buf) - k < head + size:
                break
            if kind == 0x40 and size == 2:
                self.owner._acked(int.from_bytes(buf[k + head : k + head + 2], "big"))
            elif kind == 0x20 and size == 2 and not self.connack.done():
                self.connack.set_result(buf[k + head + 1])
            k += head + size
        self.held = buf[k:]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        if not self.connack.done():
            self.connack.set_exception(BrokerGone("the broker closed the connection"))


class BrokerOut:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
    ) -> None:
        self._host, self._port = host, port
        # clean session: what was not acknowledged, this side sends again
        self._connect = connect_packet(
            client_id, username=username, password=password, keepalive_s=KEEPALIVE_S
        )
        self._tls = ssl.create_default_context() if tls else None
        self._transport: asyncio.Transport | None = None
        self._inflight: dict[int, tuple[bytes, asyncio.Future[None] | None]] = {}
        self._queued: deque[tuple[bytes, bytes, asyncio.Future[None] | None]] = deque()
        self._topics: dict[str, bytes] = {}  # encoded once: a watch uses a few, often
        self.refused = 0  # sent with nobody waiting, and not queued
        self._next_id = 1
        self._out: list[bytes] = []
        self._flush_at: asyncio.Handle | None = None
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.published = 0  # acknowledged by the broker
        # told True when the backlog reaches SLOW_AT, False once it is half that: a
        # gateway stops reading its devices meanwhile, so memory stays bounded
        self.on_pressure: Callable[[bool], None] = lambda _slow: None
        self.slowed = False

    async def start(self, timeout: float = 10) -> None:
        """Connect (BrokerGone if the broker does not answer in time), then keep the
        connection: reconnect and send again what was not acknowledged."""
        self._task = asyncio.create_task(self._run(), name="broker connection")
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except TimeoutError:
            self._task.cancel()
            msg = f"no CONNACK from the broker at {self._host}:{self._port} in {timeout:.0f} s"
            raise BrokerGone(msg) from None

    @property
    def task(self) -> "asyncio.Task[None]":
        """The task keeping the connection: it ends only if something unforeseen broke."""
        assert self._task is not None, "start() first"
        return self._task

    def publish(self, topic: str, payload: bytes) -> "asyncio.Future[None]":
        """Publish; the future completes when the broker has it."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self._put(topic, payload, done):
            done.set_exception(BrokerGone(f"{MAX_QUEUED} messages already waiting"))
        return done

    def send(self, topic: str, payload: bytes) -> bool:
        """Publish with nobody waiting for the PUBACK (a frame the device expects no
        answer to): no future to make and complete. False if it could not be queued."""
        if self._put(topic, payload, None):
            return True
        self.refused += 1
        return False

    def _put(self, topic: str, payload: bytes, done: "asyncio.Future[None] | None") -> bool:
        if len(self._inflight) + len(self._queued) >= MAX_QUEUED:
            return False
        head = self._topics.get(topic)
        if head is None:
            if len(self._topics) >= TOPICS_KEPT:
                self._topics.clear()
            head = self._topics[topic] = text(topic)
        if self._transport is not None and not self._queued and len(self._inflight) < WINDOW:
            self._fly(head, payload, done)  # the usual case: straight out
        else:
            self._queued.append((head, payload, done))
            if self._transport is not None:
                self._admit()
        if not self.slowed and len(self._inflight) + len(self._queued) >= SLOW_AT:
            self._pressure()
        return True

    @property
    def backlog(self) -> int:
        """Messages published and not yet acknowledged by the broker."""
        return len(self._inflight) + len(self._queued)

    def _admit(self) -> None:
        """Queued messages into flight while packet ids are free (they are 16-bit)."""
        while self._queued and len(self._inflight) < WINDOW:
            self._fly(*self._queued.popleft())

    def _fly(self, head: bytes, payload: bytes, done: "asyncio.Future[None] | None") -> None:
        pid = self._next_id
        while pid in self._inflight:
            pid = pid % 65535 + 1
        self._next_id = pid % 65535 + 1
        size = len(head) + 2 + len(payload)
        packet = b"".join((b"\x32", remaining_length(size), head, pid.to_bytes(2, "big"), payload))
        self._inflight[pid] = (packet, done)
        self._send(packet)

    def _pressure(self) -> None:
        backlog = self.backlog
        if not self.slowed and backlog >= SLOW_AT:
            self.slowed = True
            self.on_pressure(True)
        elif self.slowed and backlog <= SLOW_AT // 2:
            self.slowed = False
            self.on_pressure(False)

    async def drain(self, timeout: float) -> int:
        """Wait up to `timeout` s for the broker to acknowledge everything published;
        returns how many it has not."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.backlog and loop.time() < deadline:
            await asyncio.sleep(0.05)
        return self.backlog

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._transport is not None:
            self._transport.write(b"\xe0\x00")  # DISCONNECT
            self._transport.close()

    # -- the connection ---------------------------------------------------------------

    def _send(self, packet: bytes) -> None:
        self._out.append(packet)
        if self._flush_at is None:
            self._flush_at = asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_at = None
        if self._transport is not None and self._out:
            self._transport.write(b"".join(self._out))
        self._out.clear()

    def _acked(self, pid: int) -> None:
        sent = self._inflight.pop(pid, None)
        if sent is not None:
            self.published += 1
            done = sent[1]
            if done is not None and not done.done():
                done.set_result(None)
            if self._queued:
                self._admit()
            if self.slowed:
                self._pressure()

    async def _run(self) -> None:
        attempt = 0
        while True:
            why = ""
            try:
                wire = await self._session()
                attempt = 0
                await self._keep(wire)
            except BrokerGone as gone:  # our own words
                why = str(gone)
            except (OSError, TimeoutError) as exc:
                why = os_reason(exc)
            finally:
                self._transport = None
                self.connected.clear()
            if why and attempt == 0:
                log.warning("the broker at %s:%s is away: %s", self._host, self._port, why)
            await asyncio.sleep(RETRY_S[min(attempt, len(RETRY_S) - 1)])
            attempt += 1

    async def _session(self) -> _Wire:
        loop = asyncio.get_running_loop()
        transport, wire = await asyncio.wait_for(
            loop.create_connection(lambda: _Wire(self), self._host, self._port, ssl=self._tls),
            timeout=10,
        )
        assert isinstance(transport, asyncio.Transport)
        transport.write(self._connect)
        code = await asyncio.wait_for(wire.connack, timeout=10)
        if code != 0:
            transport.close()
            msg = f"the broker refused the connection (CONNACK return code {code})"
            raise BrokerGone(msg)
        self._transport = transport
        # what was not acknowledged goes again, in order, marked as a duplicate (all of
        # it: whatever was queued for the old connection is among it)
        self._out = [bytes([p[0] | 0x08]) + p[1:] for p, _done in self._inflight.values()]
        self._flush()
        self._admit()
        self.connected.set()
        log.info("connected to the broker at %s:%s", self._host, self._port)
        return wire

    async def _keep(self, wire: _Wire) -> None:
        """Ping while connected; return when the connection is lost."""
        while not wire.lost.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(wire.lost), KEEPALIVE_S / 2)
            if not wire.lost.done() and self._transport is not None:
                self._transport.write(b"\xc0\x00")  # PINGREQ
        raise BrokerGone("connection lost")
