"""Zigbee2MQTT: a home's Zigbee sensors and buttons, as its bridge publishes them.

Facts from Zigbee2MQTT's documentation: each device's state is a JSON object on
`<base>/<friendly name>` (the whole state every time, not only what changed; with
`advanced.last_seen` set, it carries the time the device was last heard);
`<base>/<name>/availability` is `online`/`offline` (1.x) or `{"state": "online"}`
(2.x); `<base>/bridge/...` is the bridge's own business; `<name>/set` and `/get` are
requests *to* the device. A friendly name may contain slashes.

Translation (docs/devices.md has the table): `occupancy`, `presence` (mmWave radars)
and `vibration` when true are activity (motion); `contact: false` is the door open
(true: closed); the IAS zone properties the converters expose are alarms when true:
`water_leak`/`water`, `smoke`, `gas`, `carbon_monoxide`, `sos`, `tamper`, and the
generic `alarm`, `alarm_1`, `alarm_2`, read by the device's registered kind (an SOS
button's is an SOS, a smoke detector's smoke...; any other's an alarm of no stated
kind), and the zone-named `<zone>_alarm_1`/`_2` (`sos_alarm_1`, `fire_alarm_1`...),
read by the zone's name; a presence radar's `fall_down_status: "fall"` is a fall;
`battery_low` is an event, `battery` a status. An SOS also comes from the emergency
actions (`emergency`, `sos`, `panic`, and their endpoint forms, `emergency_1`), or any
press (`single`, `double`, `hold`, ...) of a button registered as an SOS button.

Because the state repeats, a door or alarm is reported when its value changes (and on
the first message after a start), not at every battery report; an alarm that stays
true (a pendant that never clears its zone bit) is reported again once HOLD_OFF_S
has passed, so no later press is lost. Without `last_seen`
the time is when ingest received the message, so a message redelivered after a crash
is stored again; docs/devices.md tells the installer to set `last_seen: epoch`.
"""

import math
import re
from datetime import datetime
from typing import Any

from devices.models import DeviceKind, Protocol
from ingest.adapters.names import DeviceNames, Known
from ingest.adapters.translated import Canonical, Translated
from ingest.diagnosis import Unreadable, json_kind, parse
from ingest.records import Ignored, Rejected
from ingest.refusals import Refusal

PROTOCOL = str(Protocol.ZIGBEE2MQTT)
# What a button says when it is pressed: Zigbee2MQTT's action values for single,
# double, long presses and releases across vendors. An SOS button sends one of these.
PRESSES = frozenset(
    {
        "single",
        "double",
        "triple",
        "hold",
        "long",
        "press",
        "long_press",
        "on",
        "toggle",
        "emergency",
    }
)
# IAS zone properties that are an alarm when true, and the event each is
ALARMS = {
    "water_leak": "water_leak",
    "water": "water_leak",
    "smoke": "smoke",
    "gas": "gas",
    "carbon_monoxide": "carbon_monoxide",
    "tamper": "tamper",
    "sos": "sos",
}
# a zone's generic alarm, read by the kind the device is registered as
GENERIC_ALARMS = ("alarm", "alarm_1", "alarm_2")
BY_KIND = {
    # a motion sensor's generic zone is its occupancy (the converters' PIRs say alarm_1)
    DeviceKind.MOTION: "motion",
    DeviceKind.SOS_BUTTON: "sos",
    DeviceKind.SMOKE: "smoke",
    DeviceKind.GAS: "gas",
    DeviceKind.WATER: "water_leak",
}
# `<zone>_alarm_1`/`_2`, read by the zone's name
ZONE_ALARM = re.compile(r"^([a-z]+(?:_[a-z]+)*?)_alarm_[12]$")
ZONES = {
    "sos": "sos", "emergency": "sos", "panic": "sos",
    "fire": "smoke", "smoke": "smoke",
    "water": "water_leak", "flood": "water_leak", "leak": "water_leak",
    "gas": "gas", "co": "carbon_monoxide", "carbon_monoxide": "carbon_monoxide",
    "fall": "fall",
}  # fmt: skip
# an emergency action, bare or with its endpoint (`emergency_1`)
EMERGENCY_ACTION = re.compile(r"^(emergency|sos|panic)(_\w+)?$")
# what a presence radar says when it saw a fall
FALL_STATES = frozenset({"fall", "falling", "fall_down", "fallen"})
# activity: someone is there
ACTIVITY = ("occupancy", "presence", "vibration")
# an alarm that stays true is reported again after this long
HOLD_OFF_S = 60.0
_REQUESTS = ("/set", "/get")


class Zigbee2Mqtt:
    def __init__(self, names: DeviceNames, base_topic: str = "zigbee2mqtt") -> None:
        self.base = base_topic.rstrip("/")
        self._prefix = self.base + "/"
        self._names = names
        # what each device's last message said of contact and the alarms: the state
        # repeats, and only a change is an event (hence translated in arrival order,
        # on one thread: ingest.records.Foreign)
        self._last: dict[tuple[str, str], object] = {}
        # when each alarm that is still true was last reported
        self._raised: dict[tuple[str, str], float] = {}

    @property
    def subscriptions(self) -> tuple[str, ...]:
        return (f"{self.base}/#",)

    def owns(self, topic: str) -> bool:
        return topic.startswith(self._prefix)

    def translate(self, topic: str, payload: bytes, now: float) -> Translated:
        rest = topic[len(self._prefix) :]
        if rest == "bridge" or rest.startswith("bridge/"):
            return Ignored("Zigbee2MQTT bridge topic")
        availability = rest.endswith("/availability")
        name = rest.removesuffix("/availability")
        if not availability and _is_request(name):
            return Ignored("a request to a Zigbee2MQTT device")
        if not payload:  # clears a retained message: says nothing
            return Ignored("empty message")
        known = self._names.find(PROTOCOL, name)
        if not isinstance(known, Known):
            return known
        if availability:
            return _availability(known.device_id, payload)
        state = parse(payload)
        if isinstance(state, Unreadable):
            return Rejected(state.code, known.device_id, {"channel": PROTOCOL, **state.values})
        if not isinstance(state, dict):
            got = {"channel": PROTOCOL, "got": json_kind(state)}
            return Rejected(Refusal.NOT_OBJECT, known.device_id, got)
        return self._state(known, state, now)

    def _state(self, known: Known, state: dict[str, Any], now: float) -> Translated:
        device = known.device_id
        ts = _last_seen(state.get("last_seen"), now)
        out: list[Canonical] = []

        def event(kind: str, ident: str | None = None, **data: Any) -> None:
            body: dict[str, Any] = {"ts": ts, "type": kind}
            if ident is not None:
                body["id"] = ident
            if data:
                body["data"] = data
            out.append((device, "event", body))

        active = [key for key in ACTIVITY if state.get(key) is True]
        if active == ["occupancy"]:
            event("motion")
        elif active:  # a radar's presence or a bed's vibration: activity all the same
            event("motion", source=active[0])
        contact = state.get("contact")
        if isinstance(contact, bool) and self._changed(device, "contact", contact):
            event("door_close" if contact else "door_open")
        for key, kind in self._alarms(known, state):
            if self._raise(device, key, state.get(key) is True, ts):
                # an alarm of no stated kind says which property raised it
                event(kind, **({"zone": key} if kind == "alarm" else {}))
        fall = state.get("fall_down_status")
        fallen = isinstance(fall, str) and fall in FALL_STATES
        if self._raise(device, "fall_down_status", fallen, ts):
            event("fall", state=str(fall))
        low = state.get("battery_low")
        if isinstance(low, bool) and self._changed(device, "battery_low", low) and low:
            event("battery_low")
        action = state.get("action")
        if isinstance(action, str) and action:
            if EMERGENCY_ACTION.match(action) or (
                known.kind is DeviceKind.SOS_BUTTON and action in PRESSES
            ):
                event("sos", action=action[:64])
            else:
                event("button", action=action[:64])
        status: dict[str, Any] = {"ts": ts}
        battery = state.get("battery")
        if isinstance(battery, int | float) and not isinstance(battery, bool):
            status["battery"] = battery
        if len(status) > 1 or not out:  # a message with nothing else still says it lives
            out.append((device, "status", status))
        return out

    def _alarms(self, known: Known, state: dict[str, Any]) -> list[tuple[str, str]]:
        """Each alarm property present in `state`, and the event it is."""
        found = [(key, kind) for key, kind in ALARMS.items() if key in state]
        general = BY_KIND.get(known.kind, "alarm")
        found += [(key, general) for key in GENERIC_ALARMS if key in state]
        for key in state:
            zone = ZONE_ALARM.match(key)
            if zone is not None:
                found.append((key, ZONES.get(zone[1], general)))
        return found

    def _raise(self, device: str, key: str, on: bool, ts: float) -> bool:
        """An alarm is reported when it turns true, and again while it stays true
        once HOLD_OFF_S has passed since it was last reported."""
        was_on = self._last.get((device, key)) is True
        self._last[(device, key)] = on
        if not on:
            self._raised.pop((device, key), None)
            return False
        last = self._raised.get((device, key))
        if was_on and last is not None and ts - last < HOLD_OFF_S:
            return False
        self._raised[(device, key)] = ts
        return True

    def _changed(self, device: str, key: str, value: object) -> bool:
        before = self._last.get((device, key))
        self._last[(device, key)] = value
        return before != value


def _is_request(name: str) -> bool:
    return any(name.endswith(r) or f"{r}/" in name for r in _REQUESTS)


def _availability(device: str, payload: bytes) -> Translated:
    text: object = payload.decode("utf-8", "replace").strip()
    if isinstance(text, str) and text.startswith("{"):
        body = parse(payload)
        text = body.get("state") if isinstance(body, dict) else None  # 2.x
    if text not in ("online", "offline"):
        return Rejected(Refusal.AVAILABILITY_UNKNOWN, device, {"payload": repr(payload[:60])})
    return [(device, "status", {"online": text == "online"})]


def _last_seen(value: object, now: float) -> float:
    """Zigbee2MQTT's last_seen: epoch milliseconds, or ISO 8601; else now."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return value / 1000
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return now
        if parsed.tzinfo is not None:
            return parsed.timestamp()
    return now
