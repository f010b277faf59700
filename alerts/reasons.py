"""Why an alert was raised, in words: each finding carries a reason code and its
values; this renders them in Simplified Chinese (the default) or English.

The detector writes codes and numbers, never sentences, so an operator reads the
reason in their own language and a changed wording applies to old alerts too. The
English text is also kept in `alerts.reason`, for logs and for rows of earlier
versions, which have no code.
"""

import string
from collections.abc import Callable, Mapping
from typing import Any

from kernel.language import Lang, pick_language

# Lang and pick_language live in kernel.language; alerts read them from here too
__all__ = [
    "CODES", "LABELS", "Lang", "duration", "explain", "label", "metric", "pick_language",
    "render", "say",
]  # fmt: skip


def duration(seconds: float, lang: Lang) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} 秒" if lang is Lang.ZH else f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} 分钟" if lang is Lang.ZH else f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} 小时" if lang is Lang.ZH else f"{seconds / 3600:.1f} h"


class _Formatter(string.Formatter):
    """`{x:dur}` is a duration in seconds, in the formatter's language."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "dur":
            return duration(value, self.lang)
        text: str = super().format_field(value, format_spec)
        return text


_FORMAT = {lang: _Formatter(lang) for lang in Lang}

# metric: (label, unit) in Chinese, the same in English, decimals
METRIC_WORDS: dict[str, tuple[tuple[str, str], tuple[str, str], int]] = {
    "hr": (("心率", " 次/分"), ("HR", "/min"), 0),
    "spo2": (("血氧", "%"), ("SpO2", "%"), 0),
    "temp": (("体温", " °C"), ("temperature", " °C"), 1),
    "sbp": (("收缩压", " mmHg"), ("systolic BP", " mmHg"), 0),
    "rr": (("呼吸频率", " 次/分"), ("resp. rate", "/min"), 0),
}


def metric(name: str, value: float, lang: Lang, *, label: bool = True) -> str:
    zh, en, digits = METRIC_WORDS[name]
    words, unit = zh if lang is Lang.ZH else en
    shown = f"{value:.{digits}f}{unit}"
    return f"{words} {shown}" if label else shown


Render = Callable[[Mapping[str, Any], Lang], str]

_TEMPLATES: dict[str, tuple[str, str]] = {
    "sos": ("一键呼救按钮被按下", "SOS button pressed"),
    "fall": ("手表检测到跌倒", "fall detected by the wearable"),
    "smoke": ("烟雾报警", "smoke alarm"),
    "gas": ("燃气泄漏报警", "gas leak alarm"),
    "water_leak": ("检测到漏水", "water leak detected"),
    "carbon_monoxide": ("一氧化碳报警", "carbon monoxide alarm"),
    "alarm": ("设备报警（未说明类型）", "the device raised an alarm of no stated kind"),
    "removed": (
        "手表已摘下 {off_s:dur}，此后未再佩戴",
        "wearable taken off {off_s:dur} ago and not worn since",
    ),
    "offline_last_will": (
        "设备离线（连接中断，收到遗嘱消息）",
        "device went offline (its connection dropped; last will received)",
    ),
    "offline_silent": (
        "已 {silent_s:dur} 未收到消息（应每 {interval_s:dur} 一次）",
        "no message for {silent_s:dur} (expected every {interval_s:dur})",
    ),
    "low_battery": (
        "电量 {battery:.0f}%，请今天充电",
        "battery at {battery:.0f}%: charge the device today",
    ),
    "geofence_night": (
        "{at} 距家 {distance_m:.0f} 米，超出 {radius_m:.0f} 米的家庭范围（认知障碍）",
        "{distance_m:.0f} m from home at {at}, outside the {radius_m:.0f} m home zone (dementia)",
    ),
    "inactivity": (
        "家中 {silent_s:dur} 无活动（自 {since} 起）；平常此时约已有 {expected:.0f} 次活动",
        "no movement at home for {silent_s:dur} (since {since}); on a usual day about"
        " {expected:.0f} movements would have been seen by now",
    ),
    "night_bed_exit": (
        "{left} 离床，此后 {quiet_s:dur} 无任何活动",
        "left bed at {left} and nothing has moved for {quiet_s:dur}",
    ),
    "night_door_open": (
        "夜间大门已开 {open_s:dur}（自 {since} 起）",
        "front door open for {open_s:dur} at night (since {since})",
    ),
    "fall_cancelled": (
        "佩戴者在跌倒 {after_s:dur} 后取消",
        "cancelled by the wearer {after_s:dur} after the fall",
    ),
}


def _lasting(v: Mapping[str, Any], lang: Lang) -> str:
    if lang is Lang.ZH:
        return f"持续 {v['readings']} 次读数、{duration(v['over_s'], lang)}"
    return f"for {v['readings']} readings over {duration(v['over_s'], lang)}"


def _absolute(v: Mapping[str, Any], lang: Lang) -> str:
    signs = []
    if v.get("crisis"):
        label = "高血压危象，≥180" if lang is Lang.ZH else "hypertensive crisis, >= 180"
        sep = ("（", "）") if lang is Lang.ZH else (" (", ")")
        signs.append(f"{metric('sbp', v['sbp'], lang)}{sep[0]}{label}{sep[1]}")
    if v.get("fever"):
        labels = {
            ("high", Lang.ZH): "高热，≥39.0",
            ("mild", Lang.ZH): "发热，≥37.8",
            ("high", Lang.EN): "high fever, >= 39.0",
            ("mild", Lang.EN): "fever, >= 37.8",
        }
        sep = ("（", "）") if lang is Lang.ZH else (" (", ")")
        label = labels[(v["fever"], lang)]
        signs.append(f"{metric('temp', v['temp'], lang)}{sep[0]}{label}{sep[1]}")
    joined = "；".join(signs) if lang is Lang.ZH else "; ".join(signs)
    return f"{joined}，{_lasting(v, lang)}" if lang is Lang.ZH else f"{joined} {_lasting(v, lang)}"


def _news2(v: Mapping[str, Any], lang: Lang) -> str:
    parts = [f"{metric(p['metric'], p['value'], lang)} ({p['score']})" for p in v["parts"]]
    base = [metric(b["metric"], b["value"], lang) for b in v.get("baseline", [])]
    if lang is Lang.ZH:
        text = f"NEWS2 {v['news2']} 分：{'、'.join(parts)}，{_lasting(v, lang)}"
        return text + (f"；个人基线 {'、'.join(base)}" if base else "")
    text = f"NEWS2 {v['news2']}: {', '.join(parts)} {_lasting(v, lang)}"
    return text + (f"; baseline {', '.join(base)}" if base else "")


def _baseline(v: Mapping[str, Any], lang: Lang) -> str:
    parts = []
    for p in v["parts"]:
        digits = METRIC_WORDS[p["metric"]][2]
        usual = metric(p["metric"], p["mean"], lang, label=False)
        if lang is Lang.ZH:
            parts.append(
                f"{metric(p['metric'], p['value'], lang)}，个人基线 {usual}"
                f"（±{p['sd']:.{digits}f}）"
            )
        else:
            parts.append(
                f"{metric(p['metric'], p['value'], lang)}, personal baseline {usual}"
                f" (±{p['sd']:.{digits}f})"
            )
    if lang is Lang.ZH:
        return f"{'；'.join(parts)}；{_lasting(v, lang)}"
    return f"{'; '.join(parts)}; {_lasting(v, lang)}"


_COMPOUND: dict[str, Render] = {
    "vitals_absolute": _absolute,
    "vitals_news2": _news2,
    "vitals_baseline": _baseline,
}

CODES = frozenset(_TEMPLATES) | frozenset(_COMPOUND)


def render(code: str, values: Mapping[str, Any], lang: Lang = Lang.ZH) -> str:
    """The reason in words; KeyError for a code not in the catalogue."""
    if code in _COMPOUND:
        return _COMPOUND[code](values, lang)
    zh, en = _TEMPLATES[code]
    return _FORMAT[lang].vformat(zh if lang is Lang.ZH else en, (), values)


# the words for the codes an operator sees beside a reason: (zh-CN, en)
LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "status": {
        "open": ("待受理", "open"),
        "acknowledged": ("已受理", "acknowledged"),
        "dispatched": ("已派单", "dispatched"),
        "on_scene": ("已到场", "on scene"),
        "resolved": ("已结案", "resolved"),
        "cancelled": ("已取消", "cancelled"),
    },
    "action": {
        "opened": ("新事件", "incident opened"),
        "alert_opened": ("新告警", "alert opened"),
        "repeated": ("再次告警", "repeated"),
        "downgraded": ("降级", "downgraded"),
        "escalated": ("超时升级", "escalated"),
        "reopened": ("更紧急的告警，需重新受理", "reopened: more urgent, acknowledge again"),
        "ack": ("受理", "acknowledged"),
        "assign": ("派单", "assigned"),
        "arrive": ("到场", "arrived"),
        "note": ("备注", "note"),
        "resolve": ("结案", "resolved"),
        "cancel": ("取消", "cancelled"),
        "offered": ("已询问服务点", "offered to a point"),
        "accept": ("服务点接单", "accepted"),
        "decline": ("服务点拒单", "declined"),
        "offer_expired": ("服务点未及时接单", "offer not answered in time"),
        "sms_undelivered": ("短信未送达", "SMS not delivered"),
        "no_point": ("服务圈内无可派服务点", "no point can help inside the circle"),
    },
    "skipped": {
        "declined_before": ("已拒单或超时", "declined or did not answer"),
        "closed": ("未营业", "closed"),
        "no_free_staff": ("无空闲值班人员", "no free on-call staff"),
        "at_capacity": ("已满负荷", "at capacity"),
        "lacks_capability": ("不具备所需服务", "lacks the capability"),
        "outside_circle": ("超出15分钟服务圈", "outside the service circle"),
    },
    "outcome": {
        "assisted": ("已协助", "assisted"),
        "false_alarm": ("误报", "false alarm"),
        "no_response_visit": ("无应答，已上门", "no response, visited"),
        "ambulance": ("已呼叫救护车", "ambulance"),
        "hospital": ("已送医", "taken to hospital"),
        "deceased": ("已离世", "deceased"),
        "other": ("其他", "other"),
    },
    "device_kind": {
        "watch": ("智能手表", "watch"),
        "band": ("手环", "band"),
        "sos_button": ("一键呼救按钮", "SOS button"),
        "door": ("门磁", "door sensor"),
        "motion": ("人体感应", "motion sensor"),
        "bed": ("床垫传感器", "bed sensor"),
        "smoke": ("烟雾报警器", "smoke alarm"),
        "gas": ("燃气报警器", "gas alarm"),
        "water": ("水浸传感器", "water sensor"),
        "button": ("无线按钮", "button"),
        "phone": ("手机", "phone"),
    },
    "actor": {
        "system": ("系统", "system"),
    },
    "escalated_to": {
        "supervisor": ("值班主管", "supervisor"),
        "duty_manager": ("区值班经理", "district duty manager"),
    },
}


def label(kind: str, code: str, lang: Lang) -> str:
    """The word for a status, action, outcome or escalation step; the code itself when
    there is none (a chain step named in the settings)."""
    words = LABELS[kind].get(code)
    if words is None:
        return code
    return words[0] if lang is Lang.ZH else words[1]


def _labels(row: dict[str, Any], lang: Lang) -> None:
    for column, kind in (
        ("status", "status"),
        ("to_status", "status"),
        ("outcome", "outcome"),
        ("action", "action"),
    ):
        if isinstance(row.get(column), str):
            row[f"{column}_text"] = label(kind, row[column], lang)
    data = row.get("data")
    if isinstance(data, dict) and isinstance(data.get("considered"), list):
        # copies: the stream hands one row to clients of different languages
        data = row["data"] = {**data, "considered": [
            {**c, "skipped_text": label("skipped", c["skipped"], lang)}
            if isinstance(c, dict) and isinstance(c.get("skipped"), str) else c
            for c in data["considered"]
        ]}  # fmt: skip
    if row.get("action") in ("escalated", "no_point") and isinstance(data, dict) and "to" in data:
        row["escalated_to_text"] = label("escalated_to", str(data["to"]), lang)


def say(code: str | None, values: Mapping[str, Any] | None, fallback: str, lang: Lang) -> str:
    """The reason in `lang`, or `fallback` (the stored words) when the code is unknown
    or its values were written by another version."""
    if code in CODES:
        try:
            return render(code, values or {}, lang)
        except (KeyError, TypeError, ValueError):
            pass
    return fallback


def explain(row: dict[str, Any], lang: Lang) -> None:
    """Add words in `lang` to a row an operator reads: `reason_text` to an alert (from
    `reason_code` and `reason_values`, else the stored English `reason`) or to an
    audit row whose data names a reason, and `*_text` beside its status, outcome and
    action codes."""
    _labels(row, lang)
    code, values = row.get("reason_code"), row.get("reason_values")
    data = row.get("data")
    if code is None and isinstance(data, dict) and isinstance(data.get("reason"), dict):
        code, values = data["reason"].get("code"), data["reason"].get("values")
    stored = row.get("reason")
    if code in CODES or isinstance(stored, str):
        row["reason_text"] = say(code, values, stored if isinstance(stored, str) else "", lang)
