"""Alert records and the finding a detector (or the SOS fast path) hands the service."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    P1 = "P1"  # life-threatening
    P2 = "P2"  # urgent
    P3 = "P3"  # attention


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


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
    finding: Finding


@dataclass(frozen=True, slots=True)
class Downgrade:
    """Lower the severity of an alert already opened, e.g. a fall the wearer cancelled."""

    dedup_key: str
    severity: Severity
    note: str
    observed_at: datetime


Outcome = Finding | Downgrade
