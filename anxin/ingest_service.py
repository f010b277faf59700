"""Wires the MQTT consumer to the ingest pipeline for the running service."""

import asyncio
import contextlib
import logging

from psycopg_pool import AsyncConnectionPool

from alerts.live import LiveDetector
from anxin.settings import Settings
from ingest.codec import Codec
from ingest.consumer import MqttConsumer
from ingest.pipeline import IngestPipeline
from ingest.topics import SUBSCRIPTION, shared
from kernel.db import DB_UNAVAILABLE

log = logging.getLogger("anxin")


class IngestService:
    def __init__(self, settings: Settings, pool: AsyncConnectionPool) -> None:
        self.detector = LiveDetector(
            pool,
            snapshot_s=settings.detector_snapshot_s,
            refresh_s=settings.detector_refresh_s,
        )
        self.pipeline = IngestPipeline(
            detector=self.detector,
            pool=pool,
            codec=Codec(
                max_payload_bytes=settings.max_payload_bytes,
                future_tolerance_s=settings.future_tolerance_s,
            ),
            batch_max=settings.batch_max_messages,
            max_delay_s=settings.batch_max_delay_ms / 1000,
        )
        mqtt = settings.mqtt
        group = settings.mqtt_share_group if settings.mqtt_protocol == "5" else ""
        self.topics = [shared(SUBSCRIPTION, group)]
        self.consumer = MqttConsumer(
            host=mqtt.host,
            port=mqtt.port,
            username=mqtt.username,
            password=mqtt.password,
            tls=mqtt.tls,
            client_id=settings.mqtt_client_id,
            subscriptions=self.topics,
            on_message=self.pipeline.submit,
            protocol=settings.mqtt_protocol,
            session_expiry_s=settings.mqtt_session_expiry_s,
            receive_maximum=settings.mqtt_receive_maximum,
        )
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.detector.load()
        self._tasks = [
            asyncio.create_task(self.pipeline.run(self.consumer.ack_all), name="ingest"),
            asyncio.create_task(self.detector.run(), name="detector"),
        ]
        self.consumer.start()

    async def stop(self) -> None:
        # Disconnect first: what is still buffered is unacknowledged and the broker
        # redelivers it to the next instance.
        self.consumer.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            saved = await self.detector.save()
        except DB_UNAVAILABLE as exc:
            log.warning("detector state not saved (database unavailable: %s)", exc)
        else:
            log.info("detector state saved for %d devices", saved)
