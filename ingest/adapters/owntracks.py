"""OwnTracks: a phone's location, its geofence crossings, and its last will.

Facts from the OwnTracks booklet (JSON format): the app publishes `_type: location`
to `owntracks/<user>/<device>` (`lat`, `lon`, `tst` in epoch seconds; `acc`, `batt`,
`vel`... optional, and left out when zero), `_type: transition` to
`owntracks/<user>/<device>/event` (`event` enter/leave, `desc` the region's name,
`rid` its id, `tst`, and where it happened), its step counter, `_type: steps`, to
`owntracks/<user>/<device>/step` (`steps` between `from` and `to`, epoch seconds), and
its last will, `_type: lwt`, to the device topic. With payload encryption on, every
message is `_type: encrypted` (`data`, sealed with the app's key): Anxin holds no key,
so such a message is dead-lettered saying so, never silently dropped. The booklet's
other types (cards, waypoints, status, commands...) are not readings and are ignored on
purpose; a type it does not list is dead-lettered.
"""

from typing import Any

from devices.models import Protocol
from ingest.adapters.names import DeviceNames, Known
from ingest.adapters.translated import Canonical, Translated
from ingest.diagnosis import Unreadable, json_kind, parse
from ingest.records import Ignored, Rejected
from ingest.refusals import Refusal

PROTOCOL = str(Protocol.OWNTRACKS)
BASE = "owntracks"
# the booklet's types that say nothing of the resident: the user's card, settings and
# their dump, regions set up on the phone, commands, the app's status, beacons
NOT_READINGS = frozenset({
    "beacon", "card", "cmd", "configuration", "dump", "request", "status", "waypoint",
    "waypoints",
})  # fmt: skip


class OwnTracks:
    def __init__(self, names: DeviceNames) -> None:
        self._names = names

    # transitions are events: they travel on the events lane, never behind locations
    event_subscriptions = (f"{BASE}/+/+/event",)
    reading_subscriptions = (f"{BASE}/+/+", f"{BASE}/+/+/step")

    def owns(self, topic: str) -> bool:
        return topic.startswith(BASE + "/")

    def translate(self, topic: str, payload: bytes, now: float) -> Translated:
        levels = topic.split("/")
        if (len(levels) == 4 and levels[3] not in ("event", "step")) or len(levels) > 4:
            return Ignored(f"OwnTracks {levels[3]} topic")
        if len(levels) < 3 or not levels[1] or not levels[2]:
            return Rejected(Refusal.OWNTRACKS_TOPIC, None, {"topic": topic[:120]})
        name = f"{levels[1]}/{levels[2]}"
        known = self._names.find(PROTOCOL, name)
        if not isinstance(known, Known):
            return known
        device = known.device_id
        body = parse(payload)
        if isinstance(body, Unreadable):
            return Rejected(body.code, device, {"channel": PROTOCOL, **body.values})
        if not isinstance(body, dict):
            return Rejected(
                Refusal.NOT_OBJECT, device, {"channel": PROTOCOL, "got": json_kind(body)}
            )
        kind = body.get("_type")
        if kind == "encrypted":
            return Rejected(Refusal.OWNTRACKS_ENCRYPTED, device)
        if len(levels) == 4 and levels[3] == "step":
            return _steps(device, body) if kind == "steps" else Ignored("OwnTracks step topic")
        if len(levels) == 4 and kind != "transition":
            return Rejected(Refusal.OWNTRACKS_NOT_TRANSITION, device, {"type": str(kind)[:40]})
        if kind == "location":
            return _location(device, body)
        if kind == "transition":
            return _transition(device, body)
        if kind == "lwt":  # the phone lost its connection; the will's tst is its connect time
            return [(device, "status", {"online": False})]
        if kind in NOT_READINGS:
            return Ignored(f"OwnTracks {kind}")
        if isinstance(kind, str):
            return Rejected(Refusal.OWNTRACKS_UNKNOWN_TYPE, device, {"type": kind[:40]})
        return Rejected(Refusal.OWNTRACKS_NO_TYPE, device)


def _location(device: str, body: dict[str, Any]) -> Translated:
    missing = [k for k in ("lat", "lon", "tst") if k not in body]
    if missing:
        return Rejected(Refusal.OWNTRACKS_LOCATION_LACKS, device, {"fields": ", ".join(missing)})
    out: list[Canonical] = [(device, "location", _where(body))]
    if "batt" in body:
        out.append((device, "status", {"ts": body["tst"], "battery": body["batt"]}))
    return out


def _steps(device: str, body: dict[str, Any]) -> Translated:
    """The steps counted between `from` and `to`, as a reading at `to`."""
    steps, at = body.get("steps"), body.get("to", body.get("tst"))
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0 or at is None:
        return Rejected(Refusal.OWNTRACKS_BAD_STEPS, device)
    return [(device, "vitals", {"ts": at, "steps": steps})]


def _transition(device: str, body: dict[str, Any]) -> Translated:
    event, tst = body.get("event"), body.get("tst")
    if event not in ("enter", "leave") or tst is None:
        return Rejected(Refusal.OWNTRACKS_BAD_TRANSITION, device)
    kind = "geofence_enter" if event == "enter" else "geofence_exit"
    region = body.get("desc") if isinstance(body.get("desc"), str) else None
    rid = body.get("rid") if isinstance(body.get("rid"), str) else None
    data = {k: v[:100] for k, v in (("region", region), ("rid", rid)) if v}
    # the same crossing sent again is the same event
    ident = f"{(rid or region or 'region')[:60]}-{event}-{tst}"
    out: list[Canonical] = [(device, "event", {"ts": tst, "type": kind, "id": ident, "data": data})]
    if "lat" in body and "lon" in body:
        out.append((device, "location", _where(body)))
    return out


def _where(body: dict[str, Any]) -> dict[str, Any]:
    where = {"ts": body.get("tst"), "lat": body.get("lat"), "lon": body.get("lon")}
    if "acc" in body:
        where["acc"] = body["acc"]
    return where
