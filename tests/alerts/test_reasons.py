"""Reasons in words: every code the detector writes is in the catalogue, in Simplified
Chinese and English, and the API speaks the reader's language."""

import ast
from pathlib import Path

import pytest

from alerts.reasons import CODES, Lang, pick_language, render
from tests.api_world import World, call

SAMPLES = {
    "removed": {"off_s": 1200},
    "offline_silent": {"silent_s": 200, "interval_s": 60},
    "low_battery": {"battery": 9},
    "geofence_night": {"distance_m": 830, "at": "02:14", "radius_m": 300},
    "inactivity": {"silent_s": 5 * 3600, "since": "07:30", "expected": 41},
    "night_bed_exit": {"left": "02:10", "quiet_s": 2400},
    "night_door_open": {"open_s": 900, "since": "01:05"},
    "fall_cancelled": {"after_s": 12},
    "vitals_absolute": {"sbp": 192, "temp": 39.4, "crisis": True, "fever": "high",
                        "readings": 3, "over_s": 150},
    "vitals_news2": {"news2": 7, "parts": [{"metric": "spo2", "value": 86, "score": 3},
                                           {"metric": "hr", "value": 128, "score": 2}],
                     "readings": 3, "over_s": 180,
                     "baseline": [{"metric": "spo2", "value": 96}]},
    "vitals_baseline": {"parts": [{"metric": "hr", "value": 104, "mean": 68, "sd": 6}],
                        "readings": 4, "over_s": 240},
}  # fmt: skip


def emitted_codes() -> set[str]:
    """The `code=` of every finding and downgrade the detector's rules write."""
    found = set()
    for path in Path("alerts/detect").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.keyword)
                and node.arg == "code"
                and isinstance(node.value, ast.Constant)
            ):
                found.add(node.value.value)
    return found


def test_every_code_the_detector_writes_has_words_in_both_languages() -> None:
    assert emitted_codes() <= CODES
    for code in CODES:
        values = SAMPLES.get(code, {})
        zh, en = render(code, values, Lang.ZH), render(code, values, Lang.EN)
        assert zh != en, code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), zh  # written in Chinese
        assert en.isascii() or "°" in en or "±" in en, en


def test_the_words_carry_the_values_in_each_language() -> None:
    news2 = SAMPLES["vitals_news2"]
    assert render("vitals_news2", news2, Lang.ZH) == (
        "NEWS2 7 分：血氧 86% (3)、心率 128 次/分 (2)，持续 3 次读数、3 分钟；个人基线 血氧 96%"
    )
    assert render("vitals_news2", news2, Lang.EN) == (
        "NEWS2 7: SpO2 86% (3), HR 128/min (2) for 3 readings over 3 min; baseline SpO2 96%"
    )
    assert render("inactivity", SAMPLES["inactivity"], Lang.ZH) == (
        "家中 5.0 小时 无活动（自 07:30 起）；平常此时约已有 41 次活动"
    )
    assert render("vitals_absolute", SAMPLES["vitals_absolute"], Lang.EN) == (
        "systolic BP 192 mmHg (hypertensive crisis, >= 180); temperature 39.4 °C"
        " (high fever, >= 39.0) for 3 readings over 2 min"
    )


@pytest.mark.parametrize(
    ("header", "preferred", "expected"),
    [
        (None, "zh-CN", Lang.ZH),
        (None, "en", Lang.EN),
        ("en-GB,en;q=0.9", "zh-CN", Lang.EN),
        ("zh-CN,zh;q=0.9,en;q=0.8", "en", Lang.ZH),
        ("fr-FR", "en", Lang.EN),
        ("*", "zh-CN", Lang.ZH),
    ],
)
def test_the_language_is_the_header_s_then_the_user_s(
    header: str | None, preferred: str, expected: Lang
) -> None:
    assert pick_language(header, preferred) == expected


def test_the_api_gives_reasons_in_chinese_unless_english_is_asked_for(world: World) -> None:
    alert_id = world.alerts["r1"]
    zh = call(world, "op", "GET", f"/api/v1/alerts/{alert_id}").json()
    assert zh["reason_text"] == "一键呼救按钮被按下"
    assert zh["reason_code"] == "sos"
    en = call(world, "op", "GET", f"/api/v1/alerts/{alert_id}",
              headers={"Accept-Language": "en-US,en;q=0.9"}).json()  # fmt: skip
    assert en["reason_text"] == "SOS button pressed"
    queue = call(world, "op", "GET", "/api/v1/incidents").json()["items"]
    assert {a["reason_text"] for i in queue for a in i["alerts"]} == {"一键呼救按钮被按下"}
    opened = [e for e in zh["timeline"] if e["action"] == "alert_opened"]
    assert opened[0]["reason_text"] == "一键呼救按钮被按下"


def test_statuses_actions_and_outcomes_come_in_words_too(world: World) -> None:
    alert_id = world.alerts["r1"]
    call(world, "op", "POST", f"/api/v1/alerts/{alert_id}/ack")
    resolve = {"outcome": "false_alarm", "note": "误按"}
    call(world, "op", "POST", f"/api/v1/alerts/{alert_id}/resolve", json=resolve)
    zh = call(world, "op", "GET", f"/api/v1/alerts/{alert_id}").json()
    assert (zh["status_text"], zh["incident"]["outcome_text"]) == ("已结案", "误报")
    assert [e["action_text"] for e in zh["timeline"]] == ["新事件", "新告警", "受理", "结案"]
    en = call(world, "op", "GET", f"/api/v1/alerts/{alert_id}",
              headers={"Accept-Language": "en"}).json()  # fmt: skip
    assert (en["status_text"], en["incident"]["outcome_text"]) == ("resolved", "false alarm")


def test_every_device_kind_has_words_in_both_languages() -> None:
    from alerts.reasons import LABELS
    from devices.models import DeviceKind

    assert set(LABELS["device_kind"]) == {str(k) for k in DeviceKind}
