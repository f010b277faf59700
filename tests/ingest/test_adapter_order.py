"""A foreign protocol's state is read in the order its messages arrived: a door sensor
repeats its state, and only a change is an event, so reading one message late would
make a closed door open again."""

import asyncio
import json
import time

import psycopg
from psycopg_pool import AsyncConnectionPool

from alerts.intake import Intake
from alerts.live import LiveDetector
from alerts.response.dispatching import Dispatcher
from devices.models import DeviceKind
from dispatch.choosing import DispatchPolicy
from ingest.adapters.names import DeviceNames, Known
from ingest.adapters.translated import Translated
from ingest.adapters.zigbee2mqtt import Zigbee2Mqtt
from ingest.canonical import Codec
from ingest.decoding import Decoder
from ingest.pipeline import IngestPipeline
from tests.ingest.test_adapters import add, events

DOOR = "zigbee2mqtt/home12/door"


def test_a_door_read_while_its_name_is_looked_up_keeps_the_order_of_its_messages(
    database_url: str, db: psycopg.Connection
) -> None:
    add(db, "z-door", "door", "zigbee2mqtt", "home12/door")
    seen = int(time.time() * 1000) - 60_000
    states = [
        {"contact": False, "battery_low": False, "tamper": False, "last_seen": seen},
        {"contact": False, "battery_low": False, "tamper": False, "last_seen": seen + 1000},
        {"contact": True, "battery_low": True, "tamper": True, "last_seen": seen + 2000},
    ]
    asyncio.run(_ingest(database_url, [json.dumps(s).encode() for s in states]))
    assert events(db, "z-door") == ["door_open", "battery_low", "door_close", "tamper"]


async def _ingest(url: str, payloads: list[bytes]) -> None:
    names = DeviceNames()
    decoder = Decoder(
        Codec(max_payload_bytes=65536, future_tolerance_s=86400), (Zigbee2Mqtt(names),)
    )
    acked: list[int] = []
    async with AsyncConnectionPool(url, min_size=1, max_size=2) as pool:
        pipeline = IngestPipeline(
            pool=pool,
            decoder=decoder,
            names=names,
            batch_max=100,
            max_delay_s=0.0,
            alerts=Intake(LiveDetector(pool), Dispatcher(DispatchPolicy())),
        )
        first, *later = payloads
        pipeline.submit(DOOR, first, 1, 1)  # its name not looked up yet
        # ... and the look-up lands while the sensor's next messages arrive
        names.remember("zigbee2mqtt", "home12/door", Known("z-door", DeviceKind.DOOR))
        for mid, payload in enumerate(later, start=2):
            pipeline.submit(DOOR, payload, mid, 1)
        writer = asyncio.create_task(pipeline.run(acked.extend))
        try:
            async with asyncio.timeout(10):
                while len(acked) < len(payloads):
                    await asyncio.sleep(0.01)
        finally:
            writer.cancel()
    assert acked == list(range(1, len(payloads) + 1))


class Broken:
    """An adapter with a bug: it raises on every message it owns."""

    def owns(self, topic: str) -> bool:
        return topic.startswith("broken/")

    def translate(self, topic: str, payload: bytes, now: float) -> Translated:
        raise KeyError(topic)


def test_an_adapter_that_raises_leaves_a_dead_letter_and_the_writer_carries_on(
    database_url: str, db: psycopg.Connection
) -> None:
    asyncio.run(_ingest_broken(database_url))
    assert db.execute("SELECT topic, reason_code FROM dead_letters").fetchall() == [
        ("broken/1", "decode_failed")
    ]


async def _ingest_broken(url: str) -> None:
    decoder = Decoder(Codec(max_payload_bytes=65536, future_tolerance_s=86400), (Broken(),))
    acked: list[int] = []
    async with AsyncConnectionPool(url, min_size=1, max_size=2) as pool:
        pipeline = IngestPipeline(
            pool=pool,
            decoder=decoder,
            batch_max=100,
            max_delay_s=0.0,
            alerts=Intake(LiveDetector(pool), Dispatcher(DispatchPolicy())),
        )
        pipeline.submit("broken/1", b"{}", 1, 1)
        writer = asyncio.create_task(pipeline.run(acked.extend))
        try:
            async with asyncio.timeout(10):
                while acked != [1]:
                    await asyncio.sleep(0.01)
            assert not writer.done()  # still writing
        finally:
            writer.cancel()
