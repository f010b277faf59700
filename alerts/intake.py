"""The one door from ingest into alerts.

Ingest stores what devices send; through here, and nowhere else, it asks alerts to:
- get ready for the devices of a batch before it is stored (`admit`: a device
  registered since the last look is read in; ids that are no registered device come
  back, for ingest to dead-letter);
- open the alert of an emergency event in the transaction that stores the event
  (`open_emergency`), so an SOS is alerted the moment it is durable;
- route a one-key help request the same way (`request_help`): to dispatch, not to
  the call centre;
- analyse what was committed (`observe`, then `apply` its outcomes as alerts), in the
  detector's columns (`columns`: `Observations` and the types it is made of).
"""

from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from psycopg import AsyncConnection

from alerts.detect import observations as columns
from alerts.detect.events import immediate_finding
from alerts.detect.observations import Observations
from alerts.live import LiveDetector
from alerts.models import Outcome
from alerts.service import open_alert
from devices.models import EventType

# `columns`: the detector's input types (Observations, Vitals, Events, ...) and codes
__all__ = ["Intake", "columns"]


class HelpRequests(Protocol):
    """Where a one-key help request goes: alerts.response.dispatching.Dispatcher,
    handed in by the composition root."""

    async def request_help(
        self, *, conn: AsyncConnection, device_id: str, service: str, ts: float, key: str
    ) -> int | None: ...


class Intake:
    """What ingest may ask of the running detector."""

    def __init__(self, detector: LiveDetector, dispatcher: HelpRequests) -> None:
        self._detector = detector
        self._dispatcher = dispatcher

    async def admit(self, device_ids: Iterable[str]) -> set[str]:
        """Make detection ready for these devices; returns the ids that are not
        registered devices."""
        return await self._detector.learn(device_ids)

    def device_index(self, device_ids: Sequence[str]) -> NDArray[np.int32]:
        """The detector's row for each admitted device, for building `Observations`."""
        return self._detector.engine.registry.device_index(device_ids)

    def observe(self, observations: Observations) -> list[Outcome]:
        return self._detector.observe(observations)

    async def apply(self, outcomes: list[Outcome]) -> int:
        """Write outcomes as alerts in one transaction; returns how many opened."""
        return await self._detector.apply(outcomes)

    async def open_emergency(
        self, *, conn: AsyncConnection, device_id: str, event: EventType, ts: float, key: str
    ) -> bool:
        """Open the alert of an emergency event (devices.models.URGENT_EVENTS) in the
        caller's transaction; False when this press was taken already (redelivered)."""
        finding = immediate_finding(device_id, event, ts, key)
        opened = await open_alert(conn=conn, finding=finding, policy=self._detector.policy)
        return opened is not None

    async def request_help(
        self, *, conn: AsyncConnection, device_id: str, service: str, ts: float, key: str
    ) -> bool:
        """Route a one-key help request (not an alert: the call centre never sees it)
        in the caller's transaction; False when this press was taken already."""
        taken = await self._dispatcher.request_help(
            conn=conn, device_id=device_id, service=service, ts=ts, key=key
        )
        return taken is not None

    def watch_from(self, ts: float) -> None:
        """Nothing was observed before `ts` (ingest could not store: the database was
        away), so silence is counted from then."""
        self._detector.watch_from(ts)
