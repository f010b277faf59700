"""Wires MQTT consumers to ingest pipelines for the running service: one lane for
events, one for readings, each with its own session and writer."""

import asyncio
import logging
import time
from dataclasses import dataclass
from functools import partial

from psycopg_pool import AsyncConnectionPool

from alerts.intake import Intake
from alerts.live import LiveDetector
from alerts.policy import EscalationPolicy
from anxin.policies import dispatcher
from anxin.settings import Settings
from anxin.supervisor import Supervisor
from ingest.adapters.gateway_reports import GatewayReports
from ingest.adapters.names import DeviceNames
from ingest.adapters.owntracks import OwnTracks
from ingest.adapters.zigbee2mqtt import Zigbee2Mqtt
from ingest.canonical import Codec
from ingest.consumer import MqttConsumer, broker_outage
from ingest.decoding import Decoder
from ingest.pipeline import IngestPipeline
from ingest.ratelimit import RateLimiter
from ingest.topics import (
    EVENT_SUBSCRIPTIONS,
    EVENT_SUFFIX,
    READING_SUBSCRIPTIONS,
    RETIRED_SUBSCRIPTIONS,
)
from kernel.outage import DB_UNAVAILABLE, OutageLog, why

log = logging.getLogger("anxin")
# A clean stop waits until nothing has arrived unacknowledged for this long.
DRAIN_QUIET_S = 0.3


@dataclass(frozen=True)
class Lane:
    """One MQTT session and one writer: events have their own, readings theirs."""

    name: str
    pipeline: IngestPipeline
    consumer: MqttConsumer


class IngestService:
    def __init__(
        self,
        settings: Settings,
        pool: AsyncConnectionPool,
        *,
        outage: OutageLog,
        policy: EscalationPolicy,
    ) -> None:
        """`outage`: the service's one outage log; `policy`: incidents' deadlines."""
        self.detector = LiveDetector(
            pool,
            snapshot_s=settings.detector_snapshot_s,
            refresh_s=settings.detector_refresh_s,
            outage=outage,
            policy=policy,
        )
        intake = Intake(self.detector, dispatcher(settings))
        codec = Codec(
            max_payload_bytes=settings.max_payload_bytes,
            future_tolerance_s=settings.future_tolerance_s,
        )
        # Devices that speak Zigbee2MQTT or OwnTracks: their topics are subscribed on
        # the lane of what they say (a home sensor's state is its events: a door, a
        # smoke alarm, an SOS press), and their adapters turn them into canonical ones.
        names = DeviceNames()
        zigbee = Zigbee2Mqtt(names, settings.zigbee2mqtt_base_topic)
        owntracks = OwnTracks(names)
        # what the watch gateway could not read: dead letters with its reasons
        reports = GatewayReports()
        decoder = Decoder(codec, (zigbee, owntracks, reports))

        # both lanes' connections: an unreachable broker is said once, not once per lane
        broker = broker_outage(settings.mqtt.host, settings.mqtt.port)

        def lane(
            name: str,
            subscriptions: tuple[str, ...],
            batch_max: int,
            delay_s: float,
            *,
            client_suffix: str = "",
            elsewhere: str | None = None,
        ) -> Lane:
            pipeline = IngestPipeline(
                alerts=intake,
                pool=pool,
                decoder=decoder,
                names=names,
                batch_max=batch_max,
                max_delay_s=delay_s,
                outage=outage,
                elsewhere=elsewhere,
                lane=name,
                limiter=RateLimiter(
                    rate_per_s=settings.device_rate_per_s, burst=settings.device_burst
                ),
            )
            mqtt = settings.mqtt
            consumer = MqttConsumer(
                host=mqtt.host,
                port=mqtt.port,
                username=mqtt.username,
                password=mqtt.password,
                tls=mqtt.tls,
                client_id=settings.mqtt_client_id + client_suffix,
                subscriptions=subscriptions,
                on_message=pipeline.submit,
                protocol=settings.mqtt_protocol,
                session_expiry_s=settings.session_expiry_s,
                receive_maximum=settings.mqtt_receive_maximum,
                share_group=settings.share_group,
                retired=RETIRED_SUBSCRIPTIONS,
                client=settings.mqtt_client,
                outage=broker,
            )
            return Lane(name, pipeline, consumer)

        # Events are written as they come: never in a batch timer, never behind readings.
        self.lanes = [
            lane(
                "events",
                (
                    *EVENT_SUBSCRIPTIONS,
                    *zigbee.subscriptions,
                    *owntracks.event_subscriptions,
                    *reports.subscriptions,
                ),
                1000,
                0.0,
                client_suffix="-events",
            ),
            lane(
                "readings",
                (*READING_SUBSCRIPTIONS, *owntracks.reading_subscriptions),
                settings.batch_max_messages,
                settings.batch_max_delay_ms / 1000,
                elsewhere=EVENT_SUFFIX,
            ),
        ]
        self.topics = [t for ln in self.lanes for t in ln.consumer.subscriptions]
        self.client_kind = self.lanes[0].consumer.client_kind  # fast, or stock if it fell back

    async def publish(self, topic: str, payload: bytes) -> None:
        """A command to a device, on the events lane's connection (devices.commands)."""
        await self.lanes[0].consumer.publish(topic, payload)

    def subscribed(self) -> bool:
        return all(ln.consumer.subscribed.is_set() for ln in self.lanes)

    async def start(self, supervisor: Supervisor) -> None:
        await self.detector.load()
        for ln in self.lanes:
            supervisor.start(
                f"ingest writer ({ln.name})", partial(ln.pipeline.run, ln.consumer.ack_all)
            )
        supervisor.start("detector sweep", self.detector.run_sweeps)
        supervisor.start("detector refresh", self.detector.run_refresh)
        supervisor.start("detector snapshot", self.detector.run_snapshots)
        for ln in self.lanes:
            ln.consumer.start()

    async def stop(self, drain_s: float = 10.0) -> None:
        """Take no more messages, commit and acknowledge what was taken, disconnect.

        Alone, whatever is left unacknowledged is redelivered at the next start; in a
        share group the session ends with the disconnect, so everything taken must be
        acknowledged first. The caller stops the supervised tasks afterwards.
        """
        for ln in self.lanes:
            ln.consumer.stop_taking()
            ln.pipeline.flush()
        deadline = time.monotonic() + drain_s
        quiet_since = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - quiet_since < DRAIN_QUIET_S:
            await asyncio.sleep(0.05)
            if not all(ln.consumer.all_acknowledged() and ln.pipeline.idle() for ln in self.lanes):
                quiet_since = time.monotonic()
        for ln in self.lanes:
            ln.consumer.stop()

    async def save_state(self) -> None:
        try:
            saved = await self.detector.save()
        except DB_UNAVAILABLE as exc:
            log.warning("detector state not saved (database unavailable: %s)", why(exc))
        except Exception:  # stopping anyway: say why, and let the rest shut down
            log.exception("detector state not saved")
        else:
            log.info("detector state saved for %d devices", saved)
