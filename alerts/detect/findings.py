"""Turning fired rows into findings an operator can read."""

from datetime import UTC, datetime

from alerts.models import Finding, Severity


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(float(ts), UTC)


def finding(
    *,
    device_id: str,
    rule: str,
    severity: Severity,
    reason: str,
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
        reason=reason,
        observed_at=at(ts),
        dedup_key=f"{rule}:{device_id}:{episode}",
        data=data or {},
    )


def duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
