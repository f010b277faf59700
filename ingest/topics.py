"""Canonical topic contract: anxin/v1/{device_id}/{channel}."""

from dataclasses import dataclass
from enum import StrEnum

from ingest.refusals import Refusal, render
from kernel.types import is_device_id

PREFIX = "anxin/v1"
SUBSCRIPTION = f"{PREFIX}/+/+"
# Events (SOS, falls, alarms) have a subscription, a session and a writer of their own,
# so no volume of readings can queue in front of them, at the broker or in ingest.
# The readings lane takes every channel (unknown ones are dead-lettered there) and
# leaves events to the events lane.
EVENT_SUBSCRIPTIONS = (f"{PREFIX}/+/event",)
READING_SUBSCRIPTIONS = (SUBSCRIPTION,)
EVENT_SUFFIX = "/event"
# What a gateway could not read of what its devices said (a "3G" watch's bad frame or
# unknown keyword): anxin/gateways/<gateway>/unread/<device id, or - if none>, stored
# as a dead letter (ingest.adapters.gateway_reports). Per device, so a rate limit on one
# watch's garbage leaves the others' reports alone.
GATEWAYS = "anxin/gateways"


def unread_topic(gateway: str, device_id: str | None) -> str:
    return f"{GATEWAYS}/{gateway}/unread/{device_id or '-'}"


# commands to devices (devices.commands); the watch gateway takes those for its watches
COMMAND_SUBSCRIPTION = f"{PREFIX}/+/cmd"
# What sessions of earlier versions subscribed to: every channel in share group `anxin`,
# the default then. Left in a session next to the plain subscription, each message
# would arrive twice.
RETIRED_SUBSCRIPTIONS = (f"$share/anxin/{SUBSCRIPTION}",)


class Channel(StrEnum):
    VITALS = "vitals"
    EVENT = "event"
    LOCATION = "location"
    STATUS = "status"


class BadTopic(ValueError):
    """A topic that is not the canonical contract: why, as a refusal code and its values."""

    def __init__(self, code: Refusal, **values: str) -> None:
        super().__init__(render(code, values))
        self.code = code
        self.values = values


@dataclass(frozen=True, slots=True)
class Topic:
    device_id: str
    channel: Channel

    def __post_init__(self) -> None:
        if not is_device_id(self.device_id):
            raise BadTopic(Refusal.BAD_DEVICE_ID, device_id=self.device_id[:80])

    @classmethod
    def parse(cls, topic: str) -> "Topic":
        parts = topic.split("/")
        if len(parts) != 4 or f"{parts[0]}/{parts[1]}" != PREFIX:
            raise BadTopic(Refusal.BAD_TOPIC, topic=topic[:120])
        try:
            channel = Channel(parts[3])
        except ValueError:
            raise BadTopic(Refusal.UNKNOWN_CHANNEL, channel=parts[3][:40]) from None
        return cls(parts[2], channel)

    def __str__(self) -> str:
        return f"{PREFIX}/{self.device_id}/{self.channel}"


def shared(subscription: str, group: str) -> str:
    """The MQTT v5 shared-subscription form, so ingest workers split the stream."""
    return f"$share/{group}/{subscription}" if group else subscription
