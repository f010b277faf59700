"""The TCP gateway for "3G" watches (`anxin gateway watch --port 5093`): it reads the
watches' frames and publishes what they say as canonical messages, so the rest of Anxin
sees one format. Where the protocol has a reply (an alarm's `AL`, the keepalive's
`LK`), the watch gets it only once the broker has every message of that frame, so a
watch that hears nothing sends again and nothing is lost between the two.

One connection speaks for one watch: a frame naming another is refused and the
connection closed. A malformed frame, or one whose keyword the protocol as Anxin knows
it does not have, is logged and reported to ingest, which keeps it as a dead letter with
the reason (ingest.adapters.gateway_reports); a connection that sends
garbage for too long, or a frame without end, is closed; a connection silent past the
idle limit is closed (a watch's keepalive comes every few minutes). Each connection
holds at most one unfinished frame. Built on asyncio's Protocol, not streams: an idle
connection costs a transport, a socket and a few small objects.
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from gateways.watch.protocol import (
    BadFrame,
    Frame,
    FrameSplitter,
    FrameTooLong,
    UnsupportedCommand,
    meaning,
    parse_frame,
    watch_command,
)
from ingest.topics import PREFIX, unread_topic

log = logging.getLogger("anxin.gateway")

GARBAGE_MAX = 4096  # bytes outside any frame in a row before the connection is closed
IDLE_S = 900.0
SWEEP_S = 30.0
FRAME_KEPT = 1024  # characters of a refused frame kept in its dead letter
# why a frame was not read, as the dead letter's reason code (ingest.refusals.Refusal:
# the codes ingest.adapters.gateway_reports accepts; the gateway reaches ingest only
# through the broker)
BAD_FRAME, BAD_FIELDS, UNKNOWN_KEYWORD = (
    "watch_bad_frame", "watch_bad_fields", "watch_unknown_keyword"
)  # fmt: skip


class Broker(Protocol):
    on_pressure: Callable[[bool], None]

    def publish(self, topic: str, payload: bytes) -> "asyncio.Future[None]": ...

    def send(self, topic: str, payload: bytes) -> bool: ...


@dataclass
class Limits:
    max_frame: int = 64 * 1024
    garbage_max: int = GARBAGE_MAX
    idle_s: float = IDLE_S


class WatchConnection(asyncio.Protocol):
    __slots__ = (
        "awaiting", "device_id", "gateway", "indexed", "last_seen", "maker", "splitter",
        "transport",
    )  # fmt: skip

    def __init__(self, gateway: "WatchGateway") -> None:
        self.gateway = gateway
        self.splitter = FrameSplitter(gateway.limits.max_frame)
        self.transport: asyncio.Transport | None = None
        self.device_id: str | None = None
        self.maker = "3G"
        self.indexed = False  # its frames carry an index field, so must ours
        self.last_seen = time.monotonic()
        # the echo each command sent to this watch waits for -> that command's id
        self.awaiting: dict[str, int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.gateway.connections.add(self)
        if self.gateway.slowed:
            transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.gateway.connections.discard(self)
        if self.device_id is not None and self.gateway.by_device.get(self.device_id) is self:
            del self.gateway.by_device[self.device_id]
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.last_seen = time.monotonic()
        try:
            bodies = self.splitter.feed(data)
        except FrameTooLong as exc:
            self.gateway.refuse(self, self.device_id, b"", exc)
            self.close(f"frame too long: {exc}")
            return
        for body in bodies:
            self.gateway.frame(self, body)
        if self.splitter.garbage > self.gateway.limits.garbage_max:
            self.close(f"{self.splitter.garbage} bytes outside any frame")

    def send(self, reply: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(reply)

    def close(self, why: str) -> None:
        self.gateway.counts["closed"] += 1
        log.warning("closing %s (%s): %s", self.peer(), self.device_id or "no frame yet", why)
        if self.transport is not None:
            self.transport.close()

    def peer(self) -> str:
        info = self.transport.get_extra_info("peername") if self.transport else None
        return f"{info[0]}:{info[1]}" if info else "?"


class WatchGateway:
    def __init__(self, broker: Broker, limits: Limits | None = None) -> None:
        self.broker = broker
        self.limits = limits or Limits()
        self.connections: set[WatchConnection] = set()
        self.by_device: dict[str, WatchConnection] = {}
        self.counts: Counter[str] = Counter()
        self._encode = msgspec.json.Encoder().encode
        # while the broker is behind, the watches wait in their sockets, not in memory
        self.slowed = False
        broker.on_pressure = self._slow

    def _slow(self, slow: bool) -> None:
        self.slowed = slow
        self.counts["slowed" if slow else "resumed"] += 1
        for conn in self.connections:
            if conn.transport is not None and not conn.transport.is_closing():
                if slow:
                    conn.transport.pause_reading()
                else:
                    conn.transport.resume_reading()

    async def serve(self, host: str, port: int) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        return await loop.create_server(lambda: WatchConnection(self), host, port, backlog=4096)

    def frame(self, conn: WatchConnection, body: bytes) -> None:
        self.counts["frames"] += 1
        try:
            frame = parse_frame(body)
        except BadFrame as exc:
            self.refuse(conn, conn.device_id, body, exc)
            return
        try:
            said = meaning(frame, time.time())
        except BadFrame as exc:
            self.refuse(conn, frame.device_id, body, exc)
            return
        if conn.device_id is None:
            conn.device_id = frame.device_id
            conn.maker, conn.indexed = frame.maker, frame.index is not None
            self.by_device[frame.device_id] = conn
        elif frame.device_id != conn.device_id:
            conn.close(f"a frame for {frame.device_id!r} on {conn.device_id!r}'s connection")
            return
        if conn.awaiting and frame.kind in conn.awaiting:
            self._echoed(conn, frame.kind)
        if said.unknown:
            self.refuse(conn, frame.device_id, body, None, keyword=frame.kind)
            return
        self.counts["published"] += len(said.messages)
        topic = f"{PREFIX}/{frame.device_id}/"
        if said.reply is None:
            for channel, payload in said.messages:
                if not self.broker.send(topic + channel, self._encode(payload)):
                    # the broker is away and the queue full: a position is lost, the
                    # watch sends its next in a minute, and the count shows it
                    self.counts["not_queued"] += 1
            return
        sent = [
            self.broker.publish(topic + channel, self._encode(payload))
            for channel, payload in said.messages
        ]
        if not sent:
            conn.send(said.reply)
        else:
            reply = said.reply
            both = asyncio.gather(*sent)
            both.add_done_callback(lambda done: self._answer(conn, reply, done))

    def refuse(
        self,
        conn: WatchConnection,
        device_id: str | None,
        body: bytes,
        bad: BadFrame | None,
        keyword: str = "",
    ) -> None:
        """Report a frame the gateway could not read (`bad`) or whose keyword it does not
        know, for ingest to keep as a dead letter: logged here, stored there."""
        self.counts["unread"] += 1
        if bad is None:
            code, values = UNKNOWN_KEYWORD, {"keyword": keyword}
            log.info("unknown keyword %r from %s (%s)", keyword, conn.peer(), device_id)
        elif bad.part == "fields":
            code, values = BAD_FIELDS, {"keyword": bad.keyword}
            log.info("bad frame from %s (%s): %s", conn.peer(), device_id, bad)
        else:
            code, values = BAD_FRAME, {"part": bad.part}
            log.info("bad frame from %s (%s): %s", conn.peer(), device_id, bad)
        report = {"device_id": device_id, "code": code, "values": values,
                  "frame": body[:FRAME_KEPT].decode("latin-1"), "peer": conn.peer()}  # fmt: skip
        if not self.broker.send(unread_topic("watch", device_id), self._encode(report)):
            self.counts["not_queued"] += 1

    def _answer(
        self, conn: WatchConnection, reply: bytes, done: "asyncio.Future[list[None]]"
    ) -> None:
        if done.cancelled() or done.exception() is not None:
            self.counts["unanswered"] += 1  # the watch will send it again
            return
        self.counts["replies"] += 1
        conn.send(reply)

    def command(self, device_id: str, body: dict[str, Any]) -> None:
        """A command from `anxin/v1/<id>/cmd`, in the watch's own words: locate is
        `CR`, the interval `UPLOAD,<s>`, the SOS numbers `SOS1,<n>`... (Traccar's
        WatchProtocolEncoder has the same). Answered with a command_result event when
        the watch echoes every frame of it. A watch not connected here is left alone:
        the command stays unanswered, as the API shows."""
        conn = self.by_device.get(device_id)
        command_id = body.get("id")
        if conn is None or not isinstance(command_id, int):
            self.counts["commands_not_here"] += 1
            return
        try:
            words = watch_command(body)
        except UnsupportedCommand as exc:
            self._result(device_id, command_id, ok=False, detail=str(exc))
            return
        conn.awaiting = conn.awaiting or {}
        for word, text in words:
            conn.awaiting[word] = command_id
            header = Frame(conn.maker, device_id, "0001" if conn.indexed else None, "", b"")
            conn.send(header.reply(text))
        self.counts["commands"] += 1

    def _echoed(self, conn: WatchConnection, word: str) -> None:
        assert conn.awaiting is not None
        assert conn.device_id is not None
        command_id = conn.awaiting.pop(word)
        if command_id not in conn.awaiting.values():
            self._result(conn.device_id, command_id, ok=True, detail=f"手表已确认（{word}）")
        if not conn.awaiting:
            conn.awaiting = None

    def _result(self, device_id: str, command_id: int, *, ok: bool, detail: str) -> None:
        event = {"ts": time.time(), "type": "command_result", "id": f"cmd-{command_id}",
                 "data": {"command_id": command_id, "ok": ok, "detail": detail}}  # fmt: skip
        self.broker.send(f"{PREFIX}/{device_id}/event", self._encode(event))

    async def sweep(self) -> None:
        """Close connections silent past the idle limit; log the counts each round."""
        while True:
            await asyncio.sleep(SWEEP_S)
            cutoff = time.monotonic() - self.limits.idle_s
            for conn in [c for c in self.connections if c.last_seen < cutoff]:
                conn.close(f"silent for {self.limits.idle_s:.0f} s")
            log.info(
                "%d watches connected; %s",
                len(self.connections),
                ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())) or "nothing yet",
            )
