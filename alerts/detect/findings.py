"""Turning fired rows into findings an operator can read."""

from datetime import UTC, datetime

from alerts.models import Finding, Severity
from alerts.reasons import Lang, render


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(float(ts), UTC)


def finding(
    *,
    device_id: str,
    rule: str,
    severity: Severity,
    code: str,
    values: dict[str, object],
    ts: float,
    episode: str,
    data: dict[str, object] | None = None,
) -> Finding:
    """A finding whose dedup key names the rule, the device and the episode, so the same
    episode seen twice (two instances, a replayed batch) opens one alert."""
    return Finding(
        device_id=device_id,
        rule=rule,
        severity=severity,
        reason=render(code, values, Lang.EN),
        observed_at=at(ts),
        dedup_key=f"{rule}:{device_id}:{episode}",
        data=data or {},
        code=code,
        values=values,
    )
