"""What the codec hands the writer: rows ready for COPY, or a reason to dead-letter.

Rows are plain tuples in the column order below, because the writer streams them
into COPY and a tuple is the cheapest thing to build at 10,000 messages a second.
`ts` stays epoch seconds (a float) until PostgreSQL's to_timestamp() converts it on
the database's core: building a datetime per message cost the ingest ~8% of its rate.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from ingest.refusals import Refusal, render
from ingest.salvage import Damage
from ingest.topics import Channel

VITALS_COLUMNS = (
    "ts",
    "device_id",
    "seq",
    "hr",
    "spo2",
    "temp",
    "sbp",
    "dbp",
    "rr",
    "steps",
    "battery",
)
EVENT_COLUMNS = ("ts", "device_id", "type", "event_key", "seq", "data")
LOCATION_COLUMNS = ("ts", "device_id", "seq", "lat", "lon", "acc")
STATUS_COLUMNS = ("ts", "device_id", "online", "battery", "rssi", "fw")

COLUMNS: dict[Channel, tuple[str, ...]] = {
    Channel.VITALS: VITALS_COLUMNS,
    Channel.EVENT: EVENT_COLUMNS,
    Channel.LOCATION: LOCATION_COLUMNS,
    Channel.STATUS: STATUS_COLUMNS,
}

TABLES: dict[Channel, str] = {
    Channel.VITALS: "vitals",
    Channel.EVENT: "events",
    Channel.LOCATION: "locations",
    Channel.STATUS: "device_status",
}


class Reading(msgspec.Struct, frozen=True):
    """One decoded message: which table, which row.

    A msgspec Struct rather than a frozen dataclass: one is built per message, and
    the dataclass's __init__ (object.__setattr__ per field) cost 0.7 us against 0.08.
    """

    channel: Channel
    device_id: str
    row: tuple[object, ...]
    urgent: bool = False
    # a one-key help request's service (devices.models.HelpService)
    help: str | None = None
    # the payload had no ts (a last will is fixed at connect): ts is when it arrived
    ts_received: bool = False
    # a command_result event's data: the device's answer to a command (devices.commands)
    answer: dict[str, Any] | None = None

    @property
    def ts(self) -> datetime:
        ts = self.row[0]
        assert isinstance(ts, float)
        return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that will go to dead_letters: why, as a code and its values
    (ingest.refusals renders them in either language)."""

    code: Refusal
    device_id: str | None = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        """In English, for logs and `dead_letters.reason`."""
        return render(self.code, self.values)


@dataclass(frozen=True, slots=True)
class Ignored:
    """A message this lane does not store and that is no fault: an event the readings
    lane sees because it subscribes to every channel (only such a subscription sees
    unknown channels, to dead-letter them; the events lane stores the events), a
    Zigbee2MQTT bridge topic, a command on its way to a device, an OwnTracks card.
    Acknowledged with its batch, not stored, not a dead letter."""

    what: str


@dataclass(frozen=True, slots=True)
class Foreign:
    """A message in a protocol an adapter reads (Zigbee2MQTT, OwnTracks). Adapters keep
    each device's last state (a door repeats its position; only a change is an event),
    so the lane's writer translates these, each once and in the order they arrived,
    after looking up the device names they need (ingest.adapters)."""


FOREIGN = Foreign()


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A message from a device known by its name on its protocol (a Zigbee2MQTT friendly
    name) that ingest has not looked up yet: the writer looks it up in the registry and
    translates the message again (ingest.adapters.names)."""

    protocol: str
    name: str


@dataclass(frozen=True, slots=True)
class Limited:
    """A message over its device's rate limit for its channel: acknowledged, counted in
    a summary dead letter, not stored (ingest.ratelimit)."""

    device_id: str
    limit: dict[str, Any]  # the limit's values, for the summary dead letter

    @property
    def rejected(self) -> Rejected:
        return Rejected(Refusal.OVER_LIMIT, self.device_id, self.limit)


def bare_event(reading: Reading, damage: Damage) -> Reading:
    """An event row with only what an alert needs: its time, type and identity (kept
    deterministic, so a redelivery is still the same event) and a note of the damage."""
    ts, device_id, event_type, key, seq, _data = reading.row
    key = str(key)
    if not (key.isascii() and key.isprintable()):
        key = "sha1:" + hashlib.sha1(key.encode("utf-8", "replace")).hexdigest()
    data = json.dumps({"damaged": [damage]}, ensure_ascii=True)
    return Reading(
        reading.channel,
        reading.device_id,
        (ts, device_id, event_type, key, seq, data),
        urgent=reading.urgent,
    )


# what ingest made of one message (or one part of what a message said)
Outcome = Reading | Rejected | Limited | Ignored | Foreign | Unresolved
