"""Why ingest refused a message, as a code and its values, in the project's own words.

A dead letter stores the code and its values (`dead_letters.reason_code`,
`reason_values`); the sentence is rendered here, in Simplified Chinese or English, and
the English one is also kept in `dead_letters.reason` for people reading it in SQL. No
sentence comes from a library's exception: a new release of the JSON parser may word
its errors differently, and what an operator reads must not change with it.
"""

import string
from enum import StrEnum
from typing import Any

from kernel.language import Lang


class Refusal(StrEnum):
    # the topic
    BAD_TOPIC = "bad_topic"
    BAD_DEVICE_ID = "bad_device_id"
    UNKNOWN_CHANNEL = "unknown_channel"
    UNKNOWN_PROTOCOL = "unknown_protocol"
    # the bytes
    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    LONE_SURROGATE = "lone_surrogate"
    NOT_FINITE = "not_finite"
    TOO_DEEP = "too_deep"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    # the fields
    FIELD_MISSING = "field_missing"
    FIELD_OUT_OF_RANGE = "field_out_of_range"
    FIELD_WRONG_TYPE = "field_wrong_type"
    FIELD_TOO_LONG = "field_too_long"
    FIELD_INVALID = "field_invalid"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    NO_READING = "no_reading"
    HELP_SERVICE = "help_service"
    # a position that says nothing: 0,0 (no fix), or too rough to send help to
    NO_FIX = "no_fix"
    TOO_ROUGH = "too_rough"
    # the time
    TS_NO_ZONE = "ts_no_zone"
    TS_NOT_FINITE = "ts_not_finite"
    TS_FUTURE = "ts_future"
    TS_BEFORE_2000 = "ts_before_2000"
    # the device
    UNKNOWN_DEVICE = "unknown_device"
    UNKNOWN_NAME = "unknown_name"
    NAME_LOOKUP_FAILED = "name_lookup_failed"
    OVER_LIMIT = "over_limit"
    # a foreign protocol's own rules
    OWNTRACKS_TOPIC = "owntracks_topic"
    OWNTRACKS_NO_TYPE = "owntracks_no_type"
    OWNTRACKS_NOT_TRANSITION = "owntracks_not_transition"
    OWNTRACKS_LOCATION_LACKS = "owntracks_location_lacks"
    OWNTRACKS_BAD_TRANSITION = "owntracks_bad_transition"
    OWNTRACKS_ENCRYPTED = "owntracks_encrypted"
    OWNTRACKS_BAD_STEPS = "owntracks_bad_steps"
    OWNTRACKS_UNKNOWN_TYPE = "owntracks_unknown_type"
    AVAILABILITY_UNKNOWN = "availability_unknown"
    # what a gateway could not read of its devices (the "3G" watches'), and a report of
    # it that is not as gateways send them
    WATCH_BAD_FRAME = "watch_bad_frame"
    WATCH_BAD_FIELDS = "watch_bad_fields"
    WATCH_UNKNOWN_KEYWORD = "watch_unknown_keyword"
    GATEWAY_REPORT = "gateway_report"
    # ingest's own fault, or the database's refusal of a row the codec passed
    DECODE_FAILED = "decode_failed"
    DB_REFUSED = "db_refused"


# (Simplified Chinese, English); `{channel}` and the other names are the values
WORDS: dict[Refusal, tuple[str, str]] = {
    Refusal.BAD_TOPIC: (
        "主题 {topic!r} 不是 anxin/v1/{{设备号}}/{{通道}}",
        "topic {topic!r} is not anxin/v1/{{device_id}}/{{channel}}",
    ),
    Refusal.BAD_DEVICE_ID: (
        "设备号 {device_id!r} 不符合 [A-Za-z0-9_-]{{1,64}}",
        "device id {device_id!r} is not [A-Za-z0-9_-]{{1,64}}",
    ),
    Refusal.UNKNOWN_CHANNEL: ("未知通道 {channel!r}", "unknown channel {channel!r}"),
    Refusal.UNKNOWN_PROTOCOL: (
        "主题 {topic!r} 不属于安心能读的任何协议",
        "topic {topic!r} is no protocol Anxin reads",
    ),
    Refusal.TOO_LARGE: (
        "报文 {bytes} 字节，超过上限 {limit}",
        "payload of {bytes} bytes exceeds {limit}",
    ),
    Refusal.NOT_UTF8: (
        "{channel}报文不是有效的 UTF-8（第 {at} 字节）",
        "{channel} payload is not valid UTF-8 (byte {at})",
    ),
    Refusal.LONE_SURROGATE: (
        "{channel}报文含不成对的 UTF-16 代理转义（\\ud800-\\udfff）",
        "{channel} payload has an unpaired UTF-16 surrogate escape (\\ud800-\\udfff)",
    ),
    Refusal.NOT_FINITE: (
        "{channel}报文含 NaN 或 Infinity，JSON 中没有这种数",
        "{channel} payload has NaN or Infinity, which JSON does not have",
    ),
    Refusal.TOO_DEEP: (
        "{channel}报文嵌套过深（{depth} 层），无法解析",
        "{channel} payload is nested too deeply to parse ({depth} levels)",
    ),
    Refusal.NOT_JSON: ("{channel}报文不是 JSON", "{channel} payload is not JSON"),
    Refusal.NOT_OBJECT: (
        "{channel}报文应为 JSON 对象，实为{got_zh}",
        "{channel} payload must be a JSON object, not {got}",
    ),
    Refusal.FIELD_MISSING: (
        "{channel}报文缺少字段 {field}",
        "{channel} payload lacks the field {field}",
    ),
    Refusal.FIELD_OUT_OF_RANGE: (
        "{channel}报文字段 {field} 为 {value}，超出 {range}",
        "{channel} payload field {field} is {value}, outside {range}",
    ),
    Refusal.FIELD_WRONG_TYPE: (
        "{channel}报文字段 {field} 应为{expected_zh}",
        "{channel} payload field {field} must be {expected}",
    ),
    Refusal.FIELD_TOO_LONG: (
        "{channel}报文字段 {field} 长度应在 {min}-{max} 之间",
        "{channel} payload field {field} must be {min} to {max} characters long",
    ),
    Refusal.FIELD_INVALID: (
        "{channel}报文字段 {field} 无效",
        "{channel} payload field {field} is not valid",
    ),
    Refusal.UNKNOWN_EVENT_TYPE: (
        "未知事件类型 {value!r}",
        "unknown event type {value!r}",
    ),
    Refusal.NO_READING: ("体征报文不含任何读数", "vitals payload carries no reading"),
    Refusal.HELP_SERVICE: (
        "求助事件需要 data.service（{services} 之一），收到 {service!r}",
        "help event needs data.service, one of {services}; got {service!r}",
    ),
    Refusal.NO_FIX: (
        "位置 0,0 不是定位结果（设备尚未定位）",
        "position 0,0 is no fix (the device has not located itself)",
    ),
    Refusal.TOO_ROUGH: (
        "定位精度 {acc:.0f} 米，超过 {limit} 米，无法据此派人",
        "accuracy {acc:.0f} m is over {limit} m: no place to send help to",
    ),
    Refusal.TS_NO_ZONE: (
        "ts 没有时区（RFC 3339 需要 Z 或偏移）",
        "ts has no time zone (RFC 3339 needs Z or an offset)",
    ),
    Refusal.TS_NOT_FINITE: ("ts 不是有限数", "ts is not a finite number"),
    Refusal.TS_FUTURE: (
        "ts {ts:.0f} 比现在晚 {tolerance_s:.0f} 秒以上",
        "ts {ts:.0f} is more than {tolerance_s:.0f}s in the future",
    ),
    Refusal.TS_BEFORE_2000: (
        "ts {ts:.0f} 早于 2000-01-01（设备时钟未设置?）",
        "ts {ts:.0f} is before 2000-01-01 (device clock not set?)",
    ),
    Refusal.UNKNOWN_DEVICE: ("未登记的设备 {device_id!r}", "unknown device {device_id!r}"),
    Refusal.UNKNOWN_NAME: (
        "没有名为 {name!r} 的 {protocol} 设备",
        "no {protocol} device named {name!r} is registered",
    ),
    Refusal.NAME_LOOKUP_FAILED: (
        "{protocol} 名称 {name!r} 查找失败",
        "{protocol} name {name!r} could not be looked up",
    ),
    Refusal.OVER_LIMIT: (
        "超过单设备单通道每秒 {rate:g} 条（突发 {burst}）的限额：已计数，未存储",
        "over the rate limit of {rate:g} messages/s (burst {burst}) for one device and"
        " channel: counted, not stored",
    ),
    Refusal.OWNTRACKS_TOPIC: (
        "主题 {topic!r} 不是 owntracks/<用户>/<设备>",
        "topic {topic!r} is not owntracks/<user>/<device>",
    ),
    Refusal.OWNTRACKS_NO_TYPE: ("owntracks 报文没有 _type", "owntracks payload has no _type"),
    Refusal.OWNTRACKS_NOT_TRANSITION: (
        "OwnTracks 事件主题只传 transition，收到 {type!r}",
        "an OwnTracks event topic carries transitions, not {type!r}",
    ),
    Refusal.OWNTRACKS_LOCATION_LACKS: (
        "owntracks 位置缺少 {fields}",
        "owntracks location lacks {fields}",
    ),
    Refusal.OWNTRACKS_BAD_TRANSITION: (
        "owntracks 进出事件需要 event（enter 或 leave）和 tst",
        "owntracks transition needs event enter or leave, and tst",
    ),
    Refusal.OWNTRACKS_ENCRYPTED: (
        "OwnTracks 报文已加密：请在 Anxin 设置密钥或在手机上关闭加密",
        "encrypted: set the key or turn encryption off",
    ),
    Refusal.OWNTRACKS_BAD_STEPS: (
        "OwnTracks 步数报告需要 steps（不小于 0 的整数）和 tst 或 to",
        "an OwnTracks steps report needs steps (a whole number, 0 or more) and tst or to",
    ),
    Refusal.OWNTRACKS_UNKNOWN_TYPE: (
        "OwnTracks 报文类型 {type!r} 不在其文档之列",
        "OwnTracks _type {type!r} is none of those its documentation lists",
    ),
    Refusal.WATCH_BAD_FRAME: (
        "手表报文不符合协议 [厂商*设备号*长度*内容]（{part}）",
        "the watch frame is not as the protocol [MF*ID*LEN*CONTENT] has it ({part})",
    ),
    Refusal.WATCH_BAD_FIELDS: (
        "手表 {keyword} 报文的字段不符合协议",
        "the watch's {keyword} frame has fields not as the protocol has them",
    ),
    Refusal.WATCH_UNKNOWN_KEYWORD: (
        "手表报文类型 {keyword!r} 安心不认识",
        "watch keyword {keyword!r} is not one Anxin knows",
    ),
    Refusal.GATEWAY_REPORT: (
        "网关报告不是 {{device_id, code, values, frame}} 的格式",
        "a gateway's report is not {{device_id, code, values, frame}}",
    ),
    Refusal.AVAILABILITY_UNKNOWN: (
        '在线状态既不是 online/offline 也不是 {{"state": ...}}：{payload}',
        'availability is neither online/offline nor {{"state": ...}}: {payload}',
    ),
    Refusal.DECODE_FAILED: (
        "解码程序出错（{error}），报文已留存待查",
        "internal decode error ({error}); the message is kept to look into",
    ),
    Refusal.DB_REFUSED: (
        "数据库拒收该行（SQLSTATE {sqlstate}{constraint_zh}）",
        "database refused the row (SQLSTATE {sqlstate}{constraint})",
    ),
}

# words for the values that are themselves codes
_JSON_KINDS = {
    "array": ("数组", "an array"),
    "string": ("字符串", "a string"),
    "number": ("数字", "a number"),
    "integer": ("整数", "an integer"),
    "boolean": ("true 或 false", "true or false"),
    "null": ("null", "null"),
    "object": ("对象", "an object"),
    "time": ("时间（epoch 秒或 RFC 3339）", "a time (epoch seconds or RFC 3339)"),
}
_CHANNELS = {
    "vitals": ("体征", "vitals"),
    "event": ("事件", "event"),
    "location": ("位置", "location"),
    "status": ("状态", "status"),
    "owntracks": ("owntracks ", "owntracks"),
    "zigbee2mqtt": ("zigbee2mqtt ", "zigbee2mqtt"),
}


class _Quiet(string.Formatter):
    """A value the template does not use is fine; one it uses and lacks reads «name»
    (and is noted in `lacking`, for the tests)."""

    def __init__(self) -> None:
        self.lacking: set[str] = set()

    def get_value(self, key: int | str, args: Any, kwargs: Any) -> Any:
        if isinstance(key, str):
            if key not in kwargs:
                self.lacking.add(key)
                return f"«{key}»"
            return kwargs[key]
        return super().get_value(key, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> str:
        try:
            return str(super().format_field(value, format_spec))
        except (ValueError, TypeError):  # a value of another kind than the words expect
            return str(value)


_FORMAT = _Quiet()


def lacking(code: Refusal, values: dict[str, Any]) -> set[str]:
    """The values the refusal's words use and `values` lacks (none, when it is right)."""
    for lang in Lang:
        render(code, values, lang)
    found, _FORMAT.lacking = _FORMAT.lacking, set()
    return found


def render(code: Refusal, values: dict[str, Any], lang: Lang = Lang.EN) -> str:
    """The refusal in the reader's language."""
    zh, en = WORDS[code]
    which = 0 if lang is Lang.ZH else 1
    shown = dict(values)
    if "channel" in values:
        shown["channel"] = (
            _CHANNELS.get(str(values["channel"]), ("", ""))[which] or values["channel"]
        )
    for key in ("got", "expected"):
        if key in values:
            words = _JSON_KINDS.get(str(values[key]), (str(values[key]),) * 2)
            shown[key], shown[f"{key}_zh"] = words[1], words[0]
    if "min" in values or "max" in values:
        low, high = values.get("min"), values.get("max")
        shown["range"] = f"[{'' if low is None else low}, {'' if high is None else high}]"
    constraint = values.get("constraint")
    shown["constraint"] = f", constraint {constraint}" if constraint else ""
    shown["constraint_zh"] = f"，约束 {constraint}" if constraint else ""
    return _FORMAT.format(zh if lang is Lang.ZH else en, **shown)
