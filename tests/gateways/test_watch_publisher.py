"""The gateway's publisher without a broker: never more in flight than 16-bit packet ids
allow (70,000 published at once once hung it), PUBACKs read however they are cut, and
the gateway asked to stop reading while the backlog is high."""

import asyncio
import struct

from gateways.watch import publisher
from gateways.watch.publisher import WINDOW, BrokerOut, _Wire


class Wire:
    """A transport that keeps what was written."""

    def __init__(self) -> None:
        self.written = b""

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        pass


def pids(written: bytes) -> list[int]:
    """The packet ids of the PUBLISH packets in `written` (remaining length < 128)."""
    found, k = [], 0
    while k < len(written):
        size = written[k + 1]
        topic_len = struct.unpack_from("!H", written, k + 2)[0]
        found.append(struct.unpack_from("!H", written, k + 4 + topic_len)[0])
        k += 2 + size
    return found


def test_seventy_thousand_at_once_stay_within_the_window_and_all_complete() -> None:
    async def run() -> None:
        out = BrokerOut(host="127.0.0.1", port=1, client_id="t")
        wire = Wire()
        out._transport = wire  # type: ignore[assignment]
        futures = [out.publish("anxin/v1/w/status", b"{}") for _ in range(70_000)]
        await asyncio.sleep(0)
        in_flight = pids(wire.written)
        assert len(in_flight) == WINDOW == len(set(in_flight))
        reader = _Wire(out)
        acked = 0
        while acked < 70_000:
            sent = pids(wire.written)
            wire.written = b""
            acks = b"".join(struct.pack("!BBH", 0x40, 2, p) for p in sent)
            # cut mid-packet, as a network may
            reader.data_received(acks[:3])
            reader.data_received(acks[3:])
            acked += len(sent)
            await asyncio.sleep(0)
        assert all(f.done() and f.exception() is None for f in futures)
        assert out.backlog == 0

    asyncio.run(run())


def test_a_high_backlog_asks_the_gateway_to_stop_reading_and_then_to_go_on() -> None:
    async def run() -> None:
        out = BrokerOut(host="127.0.0.1", port=1, client_id="t")
        told: list[bool] = []
        out.on_pressure = told.append
        for _ in range(publisher.SLOW_AT):  # not connected: all of them wait
            assert out.send("anxin/v1/w/status", b"{}")
        assert told == [True]
        wire = Wire()
        out._transport = wire  # type: ignore[assignment]
        out._admit()
        reader = _Wire(out)
        while out.backlog > publisher.SLOW_AT // 2:
            await asyncio.sleep(0)
            assert told == [True]  # still too far behind
            sent, wire.written = pids(wire.written), b""
            reader.data_received(b"".join(struct.pack("!BBH", 0x40, 2, p) for p in sent))
        assert told == [True, False]

    asyncio.run(run())
