"""Residents and devices: records and API schemas."""

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator
from pydantic.config import JsonDict

from kernel.types import (
    Day,
    DeviceId,
    Latitude,
    Longitude,
    PhoneNumber,
    RequestBody,
    ResidentId,
)
from kernel.validation import Refused


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
    # a Zigbee remote or panic button that is not registered as an SOS button: its
    # presses are stored as `button` events (an `emergency` action is still an SOS)
    BUTTON = "button"
    # a phone running OwnTracks (the app reports when it moves, so it can be silent for
    # hours: it is not watched for silence like a wearable)
    PHONE = "phone"


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
    # one-key help (一键求助): data.service names what is asked for (HelpService)
    HELP = "help"
    # a watch's own fence, or an OwnTracks region (data.region): stored, never paged
    GEOFENCE_EXIT = "geofence_exit"
    GEOFENCE_ENTER = "geofence_enter"
    # a sensor says its battery is low (Zigbee's battery_low): a maintenance task
    BATTERY_LOW = "battery_low"
    # a device's answer to a command (devices.commands): data.command_id, data.ok
    COMMAND_RESULT = "command_result"
    # a carbon monoxide alarm (Zigbee's carbon_monoxide, a CO zone)
    CARBON_MONOXIDE = "carbon_monoxide"
    # an alarm the device raised without saying of what (a watch's AL with no status
    # bit, a Zigbee zone's alarm_1 on a device of no alarm kind): urgent until known
    ALARM = "alarm"
    # a watch says its power was cut (status bit 14): stored, for the maintenance list
    POWER_CUT = "power_cut"


class HelpService(StrEnum):
    """What a one-key help button may ask for: the everyday services of a community
    point (dispatch routes each to a point with the capability of the same name)."""

    MEAL = "meal"
    BATH = "bath"
    CLEANING = "cleaning"
    ESCORT = "escort"
    MEDICAL = "medical"
    NURSING = "nursing"


def asked_service(event: EventType, data: object) -> HelpService | None:
    """The service a help event asks for; None when the event asks for none (a plain
    button press). ValueError, with the reason, when it asks for one Anxin cannot
    route."""
    service = data.get("service") if isinstance(data, dict) else None
    if event is not EventType.HELP and not (event is EventType.BUTTON and service is not None):
        return None
    if not isinstance(service, str) or service not in HelpService._value2member_map_:
        msg = f"help event needs data.service, one of {', '.join(HelpService)}; got {service!r}"
        raise ValueError(msg)
    return HelpService(service)


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
    {
        EventType.SOS,
        EventType.FALL,
        EventType.SMOKE,
        EventType.GAS,
        EventType.CARBON_MONOXIDE,
        EventType.WATER_LEAK,
        EventType.ALARM,
    }
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
    DeviceKind.BUTTON: 3600,
    DeviceKind.PHONE: 6 * 3600,
}


class ContactIn(RequestBody):
    """An emergency contact; the list's order is the order to call them."""

    name: str = Field(min_length=1, max_length=100)
    relation: str | None = Field(default=None, max_length=50)  # 女儿, neighbour, ...
    phone: PhoneNumber
    sms: bool = True  # may they receive SMS about this resident


Text = Annotated[str, Field(max_length=2000)]


# what `_both_coordinates` checks, said in the OpenAPI document: both numbers, or
# neither (absent or null)
_HOME_TOGETHER: JsonDict = {
    "anyOf": [
        {"required": ["home_lat", "home_lon"],
         "properties": {"home_lat": {"type": "number"}, "home_lon": {"type": "number"}}},
        {"properties": {"home_lat": {"type": "null"}, "home_lon": {"type": "null"}}},
    ]
}  # fmt: skip


class ResidentProfile(RequestBody):
    """Who the resident is: what an operator needs on the phone. The body of
    PUT /residents/{id}: the path names whom."""

    model_config = ConfigDict(json_schema_extra=_HOME_TOGETHER)

    name: str = Field(min_length=1, max_length=200)
    home_lat: Latitude | None = None
    home_lon: Longitude | None = None
    address: str | None = Field(default=None, max_length=500)
    flags: list[Annotated[CareFlag, Strict(False)]] = Field(default_factory=list)
    phone: PhoneNumber | None = None
    birth_date: Day | None = None
    district: str | None = Field(default=None, max_length=100)  # 区, e.g. 江岸区
    community: str | None = Field(default=None, max_length=100)  # 社区
    medical_notes: Text | None = None
    allergies: Text | None = None
    mobility: Text | None = None  # e.g. walks with a frame; wheelchair
    access_notes: Text | None = None  # how to get in: key safe code, a neighbour's key
    language: str | None = Field(default=None, max_length=50)  # e.g. 武汉话, Mandarin
    # None: leave the stored contacts as they are; a list replaces them
    contacts: list[ContactIn] | None = Field(default=None, max_length=10)

    @model_validator(mode="after")
    def _both_coordinates(self) -> "ResidentProfile":
        if (self.home_lat is None) != (self.home_lon is None):
            msg = "home_lat and home_lon go together"
            raise Refused(msg, zh="住址纬度和经度须同时填写或同时留空")
        return self


class ResidentIn(ResidentProfile):
    """A resident as the CLI, the seed and the service take one: with their id."""

    id: ResidentId


class Resident(ResidentIn):
    # what is stored, read back: not a request body
    model_config = ConfigDict(extra="ignore", strict=False, json_schema_extra=None)

    # as stored: a flag an earlier version accepted still reads back
    flags: list[str] = Field(default_factory=list)  # type: ignore[assignment]
    # as stored: numbers written by hand or by an earlier version read back
    phone: str | None = None


class Protocol(StrEnum):
    """How a device reaches Anxin (ingest.adapters turns each into canonical readings)."""

    CANONICAL = "canonical"  # anxin/v1/<id>/<channel>, Anxin's own JSON
    WATCH = "watch"  # a "3G" watch, through `anxin gateway watch`
    ZIGBEE2MQTT = "zigbee2mqtt"  # <base topic>/<friendly name>, a home's Zigbee2MQTT
    OWNTRACKS = "owntracks"  # owntracks/<user>/<device>, a phone


# A Zigbee2MQTT friendly name may hold slashes (`home12/door`); OwnTracks' is
# `user/device`. Neither may hold MQTT's wildcards, and no level may be empty.
DEVICE_NAME_PATTERN = r"^[^/+#\s]{1,64}(/[^/+#\s]{1,64}){0,3}$"
DeviceName = Annotated[str, Field(pattern=DEVICE_NAME_PATTERN, max_length=200)]
AccountName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class DeviceIn(BaseModel):
    id: DeviceId
    kind: DeviceKind
    resident_id: ResidentId | None = None
    expected_interval_s: int | None = Field(default=None, gt=0)
    protocol: Protocol = Protocol.CANONICAL
    # what it calls itself on its protocol: required for zigbee2mqtt and owntracks
    name: DeviceName | None = None
    # the MQTT account that speaks for it; default its own id (a watch: the gateway's)
    account: AccountName | None = None

    @model_validator(mode="after")
    def _named_where_its_protocol_names_it(self) -> "DeviceIn":
        named = self.protocol in (Protocol.ZIGBEE2MQTT, Protocol.OWNTRACKS)
        if named and self.name is None:
            msg = f"a {self.protocol} device needs its name on that protocol (--name)"
            raise Refused(msg, zh=f"{self.protocol} 设备须填写它在该协议中的名称（--name）")
        if self.protocol is Protocol.OWNTRACKS and self.name and self.name.count("/") != 1:
            msg = f"an OwnTracks name is user/device, got {self.name!r}"
            raise Refused(msg, zh=f"OwnTracks 名称应为 user/device，收到 {self.name!r}")
        if not named and self.name is not None:
            msg = f"a {self.protocol} device goes by its id; a name is for zigbee2mqtt, owntracks"
            raise Refused(
                msg, zh=f"{self.protocol} 设备以编号识别；名称仅用于 zigbee2mqtt、owntracks"
            )
        if self.protocol is Protocol.WATCH and self.account is not None:
            msg = "a watch has no MQTT account of its own: the watch gateway speaks for it"
            raise Refused(msg, zh="手表没有自己的 MQTT 账号：由手表网关代为接入")
        return self

    @property
    def mqtt_account(self) -> str | None:
        if self.protocol is Protocol.WATCH:
            return None
        return self.account or self.id


class Device(BaseModel):
    id: DeviceId
    kind: DeviceKind
    resident_id: ResidentId | None
    expected_interval_s: int
    protocol: Protocol = Protocol.CANONICAL
    name: str | None = None
    account: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _interval_of_its_kind(cls, data: Any) -> Any:
        # a row inserted by hand may leave the interval NULL: the kind's default applies
        if isinstance(data, dict) and data.get("expected_interval_s") is None:
            kind = data.get("kind")
            if kind in EXPECTED_INTERVAL_S:
                data = {**data, "expected_interval_s": EXPECTED_INTERVAL_S[DeviceKind(kind)]}
        return data
