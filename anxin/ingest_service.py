"""Wires the MQTT consumer to the ingest pipeline for the running service."""

import logging

from psycopg_pool import AsyncConnectionPool

from alerts.live import LiveDetector
from anxin.settings import Settings
from anxin.supervisor import Supervisor
from ingest.codec import Codec
from ingest.consumer import MqttConsumer
from ingest.pipeline import IngestPipeline
from ingest.topics import SUBSCRIPTION, shared
from kernel.db import DB_UNAVAILABLE, OutageLog, first_line

log = logging.getLogger("anxin")


class IngestService:
    def __init__(self, settings: Settings, pool: AsyncConnectionPool) -> None:
        outage = OutageLog(logging.getLogger("anxin.database"))  # one per service
        self.detector = LiveDetector(
            pool,
            snapshot_s=settings.detector_snapshot_s,
            refresh_s=settings.detector_refresh_s,
            outage=outage,
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
            outage=outage,
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

    async def start(self, supervisor: Supervisor) -> None:
        await self.detector.load()
        supervisor.start("ingest writer", lambda: self.pipeline.run(self.consumer.ack_all))
        supervisor.start("detector sweep", self.detector.run_sweeps)
        supervisor.start("detector refresh", self.detector.run_refresh)
        supervisor.start("detector snapshot", self.detector.run_snapshots)
        self.consumer.start()

    async def stop(self) -> None:
        """Disconnect from the broker (what is still buffered is unacknowledged, and
        the broker redelivers it); the caller stops the supervised tasks, then the
        detector's state is saved."""
        self.consumer.stop()

    async def save_state(self) -> None:
        try:
            saved = await self.detector.save()
        except DB_UNAVAILABLE as exc:
            log.warning("detector state not saved (database unavailable: %s)", first_line(exc))
        except Exception:  # stopping anyway: say why, and let the rest shut down
            log.exception("detector state not saved")
        else:
            log.info("detector state saved for %d devices", saved)
