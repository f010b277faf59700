"""How long an unacknowledged incident waits before it escalates, and to whom."""

from dataclasses import dataclass, field
from datetime import timedelta

from alerts.models import Severity


def _default_deadlines() -> dict[Severity, float]:
    # UK telecare centres promise to answer 97.5-98.5 % of alarm calls within 60 s
    return {Severity.P1: 60.0, Severity.P2: 300.0, Severity.P3: 1800.0}


@dataclass(frozen=True)
class EscalationPolicy:
    # seconds from opening (or from the last escalation) to the next escalation
    deadlines: dict[Severity, float] = field(default_factory=_default_deadlines)
    # who each escalation goes to; past the end, the last step is told again
    chain: tuple[str, ...] = ("supervisor", "duty_manager")

    def __post_init__(self) -> None:
        if set(self.deadlines) != set(Severity) or min(self.deadlines.values()) <= 0:
            msg = "every priority needs a positive acknowledgement deadline"
            raise ValueError(msg)
        if not self.chain:
            msg = "the escalation chain needs at least one step"
            raise ValueError(msg)

    def deadline(self, severity: Severity) -> timedelta:
        return timedelta(seconds=self.deadlines[severity])

    def step(self, level: int) -> str:
        """Who level `level` (1 = the first escalation) goes to."""
        return self.chain[min(level, len(self.chain)) - 1]


DEFAULT_POLICY = EscalationPolicy()
