"""Alert records and the finding a detector (or the SOS fast path) hands the service."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    P1 = "P1"  # life-threatening
    P2 = "P2"  # urgent
    P3 = "P3"  # attention

    @property
    def rank(self) -> int:
        """1 is the most urgent."""
        return int(self.value[1])

    def most_urgent(self, other: "Severity") -> "Severity":
        return self if self.rank <= other.rank else other


class AlertStatus(StrEnum):
    """An incident's place in its lifecycle (alerts.lifecycle); its alerts share it."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"

    @property
    def closed(self) -> bool:
        return self in (AlertStatus.RESOLVED, AlertStatus.CANCELLED)


class Resolution(StrEnum):
    """How an incident ended: required to resolve it."""

    ASSISTED = "assisted"
    FALSE_ALARM = "false_alarm"
    NO_RESPONSE_VISIT = "no_response_visit"
    AMBULANCE = "ambulance"
    HOSPITAL = "hospital"
    DECEASED = "deceased"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Finding:
    """Something wrong with one device's wearer or home, ready to become an alert."""

    device_id: str
    rule: str
    severity: Severity
    reason: str
    observed_at: datetime
    # Same key, same alert: a redelivered SOS press must not page anyone twice.
    dedup_key: str
    data: dict[str, Any] = field(default_factory=dict)
    # why, for alerts.reasons to say in the reader's language (`reason` is its English)
    code: str | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.observed_at.tzinfo is None:
            msg = "observed_at must be timezone-aware"
            raise ValueError(msg)
        if not self.dedup_key:
            msg = "dedup_key must not be empty"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class OpenedAlert:
    id: int
    incident_id: int
    finding: Finding
    # False: the finding repeated one already open in the incident (its count went up)
    new: bool = True


@dataclass(frozen=True, slots=True)
class Downgrade:
    """Lower the severity of an alert already opened, e.g. a fall the wearer cancelled."""

    dedup_key: str
    severity: Severity
    note: str
    observed_at: datetime
    code: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


Outcome = Finding | Downgrade
