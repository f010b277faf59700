"""SOS, fall and environment events: at once, once per press."""

from alerts.models import Downgrade, Severity
from devices.models import DeviceKind, EventType
from tests.alerts.detect_helpers import engine, event, findings, local

W, SMOKE = DeviceKind.WATCH, DeviceKind.SMOKE


def test_sos_raises_p1_at_once_and_a_redelivery_has_the_same_key() -> None:
    e = engine()
    (first,) = findings(e.observe(event(e, W, local(10), EventType.SOS, "press-1")))
    (again,) = findings(e.observe(event(e, W, local(10), EventType.SOS, "press-1")))
    assert first.severity is Severity.P1
    assert first.dedup_key == again.dedup_key


def test_a_fall_cancelled_by_the_wearer_within_grace_is_downgraded_to_p3() -> None:
    e = engine()
    (fall,) = e.observe(event(e, W, local(10), EventType.FALL, "f1"))
    (downgrade,) = e.observe(event(e, W, local(10) + 40, EventType.SOS_CANCEL, "c1"))
    assert isinstance(downgrade, Downgrade)
    assert downgrade.dedup_key == fall.dedup_key
    assert downgrade.severity is Severity.P3
    assert "40 s after the fall" in downgrade.note


def test_a_cancel_after_the_grace_period_changes_nothing() -> None:
    e = engine()
    e.observe(event(e, W, local(10), EventType.FALL, "f1"))
    e.sweep(local(10) + 200)
    assert e.observe(event(e, W, local(10) + 200, EventType.SOS_CANCEL, "c1")) == []


def test_smoke_gas_carbon_monoxide_water_and_an_unstated_alarm_are_p1() -> None:
    e = engine(kinds=(W, SMOKE, DeviceKind.GAS, DeviceKind.WATER))
    (smoke,) = findings(e.observe(event(e, SMOKE, local(3), EventType.SMOKE)))
    (gas,) = findings(e.observe(event(e, DeviceKind.GAS, local(3), EventType.GAS)))
    (water,) = findings(e.observe(event(e, DeviceKind.WATER, local(3), EventType.WATER_LEAK)))
    (co,) = findings(e.observe(event(e, DeviceKind.GAS, local(4), EventType.CARBON_MONOXIDE)))
    (alarm,) = findings(e.observe(event(e, SMOKE, local(5), EventType.ALARM)))
    assert {f.severity for f in (smoke, gas, water, co, alarm)} == {Severity.P1}
    assert (water.rule, co.rule, alarm.rule) == ("water_leak", "carbon_monoxide", "alarm")
