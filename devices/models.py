"""Residents and devices: records and API schemas."""

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, model_validator

from kernel.types import DeviceId, Latitude, Longitude, ResidentId


class DeviceKind(StrEnum):
    WATCH = "watch"
    BAND = "band"
    SOS_BUTTON = "sos_button"
    DOOR = "door"
    MOTION = "motion"
    BED = "bed"
    SMOKE = "smoke"
    GAS = "gas"
    WATER = "water"


# What a device can report on its `event` channel (see DESIGN, MQTT topics).
class EventType(StrEnum):
    SOS = "sos"
    SOS_CANCEL = "sos_cancel"
    FALL = "fall"
    DOOR_OPEN = "door_open"
    DOOR_CLOSE = "door_close"
    MOTION = "motion"
    BED_EXIT = "bed_exit"
    BED_ENTER = "bed_enter"
    SMOKE = "smoke"
    GAS = "gas"
    WATER_LEAK = "water_leak"
    REMOVED = "removed"
    BUTTON = "button"
    TAMPER = "tamper"


class CareFlag(StrEnum):
    """What the detectors need to know about a resident; a typo must not pass for one."""

    # wanders: leaving home (geofence) at night is an alert
    DEMENTIA = "dementia"
    # chronic CO2 retention (e.g. COPD): NEWS2 SpO2 scale 2, target 88-92 %
    HYPERCAPNIC = "hypercapnic"


# Emergencies: never held by a batch timer, travelling on ingest's events lane, and
# alerted in the transaction that stores them. The one list (alerts.detect.events
# gives each its alert, and fails at import if one is missing).
URGENT_EVENTS = frozenset(
    {EventType.SOS, EventType.FALL, EventType.SMOKE, EventType.GAS, EventType.WATER_LEAK}
)


# How often a healthy device reports (heartbeat or reading), in seconds; the offline
# rule waits three of these. Wearables report vitals every minute, sensors heartbeat.
EXPECTED_INTERVAL_S: dict[DeviceKind, int] = {
    DeviceKind.WATCH: 60,
    DeviceKind.BAND: 60,
    DeviceKind.SOS_BUTTON: 3600,
    DeviceKind.DOOR: 3600,
    DeviceKind.MOTION: 3600,
    DeviceKind.BED: 3600,
    DeviceKind.SMOKE: 3600,
    DeviceKind.GAS: 3600,
    DeviceKind.WATER: 3600,
}


class ResidentIn(BaseModel):
    id: ResidentId
    name: str = Field(min_length=1, max_length=200)
    home_lat: Latitude | None = None
    home_lon: Longitude | None = None
    address: str | None = Field(default=None, max_length=500)
    flags: list[CareFlag] = Field(default_factory=list)


class Resident(ResidentIn):
    # as stored: a flag an earlier version accepted still reads back
    flags: list[str] = Field(default_factory=list)  # type: ignore[assignment]


class DeviceIn(BaseModel):
    id: DeviceId
    kind: DeviceKind
    resident_id: ResidentId | None = None
    expected_interval_s: int | None = Field(default=None, gt=0)


class Device(BaseModel):
    id: DeviceId
    kind: DeviceKind
    resident_id: ResidentId | None
    expected_interval_s: int

    @model_validator(mode="before")
    @classmethod
    def _interval_of_its_kind(cls, data: Any) -> Any:
        # a row inserted by hand may leave the interval NULL: the kind's default applies
        if isinstance(data, dict) and data.get("expected_interval_s") is None:
            kind = data.get("kind")
            if kind in EXPECTED_INTERVAL_S:
                data = {**data, "expected_interval_s": EXPECTED_INTERVAL_S[DeviceKind(kind)]}
        return data
