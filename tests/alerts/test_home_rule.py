"""Life at home: silent homes, getting up at night, the front door at night."""

from alerts.detect import Engine
from alerts.models import Severity
from devices.models import DeviceKind, EventType
from tests.alerts.detect_helpers import engine, event, findings, local

MOTION, DOOR, BED = DeviceKind.MOTION, DeviceKind.DOOR, DeviceKind.BED


def home() -> Engine:
    return engine(kinds=(DeviceKind.WATCH, MOTION, DOOR, BED))


def sweep_until(
    e: Engine, start: float, end: float, rule: str, step: float = 60
) -> list[tuple[float, str]]:
    fired = []
    t = start
    while t <= end:
        fired += [(t, f.reason) for f in findings(e.sweep(t), rule)]
        t += step
    return fired


def test_an_active_home_silent_all_afternoon_raises_p2_after_the_floor() -> None:
    e = home()
    for minute in range(0, 4 * 60, 6):  # a lively morning, 10 movements an hour
        e.observe(event(e, MOTION, local(8) + minute * 60, EventType.MOTION))
    last = local(8) + 234 * 60
    fired = sweep_until(e, last, last + 8 * 3600, "inactivity")
    assert len(fired) == 1
    when, reason = fired[0]
    assert when - last >= 4 * 3600  # never before the floor
    assert when - last <= 4 * 3600 + 120
    assert reason.startswith("no movement at home for 4.0 h")


def test_a_resident_out_of_the_house_is_not_a_silent_home() -> None:
    e = home()
    for minute in range(0, 120, 6):
        e.observe(event(e, MOTION, local(8) + minute * 60, EventType.MOTION))
    e.observe(event(e, DOOR, local(10), EventType.DOOR_OPEN))
    e.observe(event(e, DOOR, local(10) + 20, EventType.DOOR_CLOSE))
    assert sweep_until(e, local(10), local(18), "inactivity") == []


def test_a_resident_asleep_in_bed_is_not_a_silent_home() -> None:
    e = home()
    for minute in range(0, 120, 6):
        e.observe(event(e, MOTION, local(13) + minute * 60, EventType.MOTION))
    e.observe(event(e, BED, local(15), EventType.BED_ENTER))  # a long afternoon nap
    assert sweep_until(e, local(15), local(21), "inactivity") == []


def test_out_of_bed_at_night_and_nothing_moving_for_30_minutes_raises_p1() -> None:
    e = home()
    e.observe(event(e, BED, local(2), EventType.BED_EXIT))
    e.observe(event(e, MOTION, local(2) + 60, EventType.MOTION))
    fired = sweep_until(e, local(2), local(4), "night_bed_exit", step=5)
    assert len(fired) == 1
    assert fired[0][0] - (local(2) + 60) <= 30 * 60 + 5
    assert fired[0][1].startswith("left bed at 02:00")


def test_a_trip_to_the_bathroom_at_night_raises_nothing() -> None:
    e = home()
    e.observe(event(e, BED, local(2), EventType.BED_EXIT))
    for s in (60, 180, 300):
        e.observe(event(e, MOTION, local(2) + s, EventType.MOTION))
    e.observe(event(e, BED, local(2) + 420, EventType.BED_ENTER))
    assert sweep_until(e, local(2), local(5), "night_bed_exit") == []


def test_getting_up_by_day_then_sitting_still_is_not_a_night_exit() -> None:
    e = home()
    e.observe(event(e, BED, local(7), EventType.BED_EXIT))
    e.observe(event(e, MOTION, local(21.8), EventType.MOTION))  # reads quietly past 22:00
    assert sweep_until(e, local(21.8), local(23), "night_bed_exit") == []


def test_front_door_open_at_night_for_ten_minutes_raises_p1_once() -> None:
    e = home()
    e.observe(event(e, DOOR, local(23.5), EventType.DOOR_OPEN))
    fired = sweep_until(e, local(23.5), local(25), "night_door_open", step=5)
    assert len(fired) == 1
    assert 600 <= fired[0][0] - local(23.5) <= 605


def test_a_door_left_open_from_the_evening_counts_from_nightfall() -> None:
    e = home()
    e.observe(event(e, DOOR, local(21), EventType.DOOR_OPEN))
    fired = sweep_until(e, local(21), local(23), "night_door_open", step=5)
    assert len(fired) == 1
    assert 600 <= fired[0][0] - local(22) <= 605


def test_night_rules_are_p1() -> None:
    e = home()
    e.observe(event(e, DOOR, local(1), EventType.DOOR_OPEN))
    (f,) = findings(e.sweep(local(1) + 601), "night_door_open")
    assert f.severity is Severity.P1
