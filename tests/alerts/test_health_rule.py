"""Device health: offline within the interval rule plus a sweep, last wills, batteries."""

from alerts.models import Severity
from devices.models import DeviceKind, EventType
from tests.alerts.detect_helpers import engine, event, findings, local, status, vitals

W = DeviceKind.WATCH


def test_a_watch_is_offline_at_three_intervals_and_the_one_second_sweep_is_on_time() -> None:
    e = engine()
    last = local(10)
    e.observe(vitals(e, last))
    t, fired = last, []
    while not fired:
        t += 1.0  # the service sweeps every second
        fired = findings(e.sweep(t), "offline")
    assert 180 < t - last <= 181  # 3 x 60 s, within one sweep (target: within 5 s)
    assert fired[0].severity is Severity.P3
    assert fired[0].reason == "no message for 3 min (expected every 60 s)"
    assert findings(e.sweep(t + 600), "offline") == []  # once per silence


def test_the_sweep_covers_100000_devices_in_one_pass() -> None:
    from alerts.detect.registry import DeviceInfo, HomeInfo

    e = engine()
    e.register(
        homes=[HomeInfo(f"h{i}") for i in range(100_000)],
        devices=[DeviceInfo(f"d{i}", W, f"h{i}", 60.0) for i in range(100_000)],
    )
    e.health.last_seen[: e.registry.n_devices] = local(10)
    assert len(findings(e.sweep(local(10) + 181), "offline")) == e.registry.n_devices


def test_a_device_back_online_can_go_offline_again() -> None:
    e = engine()
    e.observe(vitals(e, local(10)))
    assert findings(e.sweep(local(10) + 200), "offline")
    e.observe(vitals(e, local(11)))
    assert findings(e.sweep(local(11) + 200), "offline")


def test_the_last_will_marks_a_device_offline_at_once() -> None:
    e = engine()
    e.observe(vitals(e, local(10)))
    (f,) = findings(e.observe(status(e, W, local(10) + 30, online=0)), "offline")
    assert "last will" in f.reason
    assert findings(e.sweep(local(10) + 400), "offline") == []  # not twice


def test_low_battery_raises_p3_once_until_charged() -> None:
    e = engine()
    out = []
    for i, level in enumerate([30, 20, 15, 14, 13, 12, 40, 30, 14]):
        out += findings(e.observe(vitals(e, local(10) + 60 * i, battery=level)), "low_battery")
    assert [f.reason for f in out] == [
        "battery at 15%: charge the device today",
        "battery at 14%: charge the device today",
    ]


def test_a_wearable_taken_off_and_not_put_back_raises_p3_after_ten_minutes() -> None:
    e = engine()
    e.observe(event(e, W, local(10), EventType.REMOVED))
    for i in range(1, 12):
        e.observe(vitals(e, local(10) + 60 * i, hr=float("nan")))
        out = findings(e.sweep(local(10) + 60 * i), "removed")
        assert (len(out) == 1) == (i == 10)


def test_a_wearable_put_back_on_raises_nothing() -> None:
    e = engine()
    e.observe(event(e, W, local(10), EventType.REMOVED))
    e.observe(vitals(e, local(10) + 300))
    assert findings(e.sweep(local(11)), "removed") == []
