"""A refused value in the project's own words: pydantic's error *types* (stable codes)
and their context, rendered here in Simplified Chinese or English.

pydantic's own sentences ("Input should be a valid integer, unable to parse string as
an integer") change between releases and are English only; an API client, a CLI user
and a settings file's author read ours. Our validators' ValueErrors carry our own
words already, and pass through.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from kernel.language import Lang


class Refused(ValueError):
    """What our own validators raise: the English message, and the Chinese words a
    Chinese reader gets (a plain ValueError's message reaches both as it is)."""

    def __init__(self, en: str, *, zh: str) -> None:
        super().__init__(en)
        self.zh = zh


# pydantic's type prefix -> what the value should have been (zh, en)
_KINDS: dict[str, tuple[str, str]] = {
    "int": ("整数", "a whole number"),
    "float": ("数字", "a number"),
    "decimal": ("数字", "a number"),
    "bool": ("true 或 false", "true or false"),
    "string": ("字符串", "a string"),
    "str": ("字符串", "a string"),
    "bytes": ("字符串", "a string"),
    "list": ("列表", "a list"),
    "tuple": ("列表", "a list"),
    "set": ("列表", "a list"),
    "dict": ("对象", "an object"),
    "model": ("对象", "an object"),
    "model_attributes": ("对象", "an object"),
    "datetime": ("带时区的时间（RFC 3339）", "a time with its zone (RFC 3339)"),
    "date": ("日期（YYYY-MM-DD）", "a date (YYYY-MM-DD)"),
    "time": ("时刻（HH:MM）", "a time of day (HH:MM)"),
    "timezone_aware": ("带时区的时间（RFC 3339）", "a time with its zone (RFC 3339)"),
    "url": ("网址", "a URL"),
    "uuid": ("UUID", "a UUID"),
    "json": ("JSON", "JSON"),
}
_BOUNDS = {
    "greater_than": ("应大于 {gt}", "must be greater than {gt}"),
    "greater_than_equal": ("应不小于 {ge}", "must be at least {ge}"),
    "less_than": ("应小于 {lt}", "must be less than {lt}"),
    "less_than_equal": ("应不大于 {le}", "must be at most {le}"),
    "too_short": ("至少 {min_length} 项", "must have at least {min_length} items"),
    "too_long": ("至多 {max_length} 项", "must have at most {max_length} items"),
    "string_too_short": ("至少 {min_length} 个字符", "must be at least {min_length} characters"),
    "string_too_long": ("至多 {max_length} 个字符", "must be at most {max_length} characters"),
    "string_pattern_mismatch": ("格式不符（{pattern}）", "does not match {pattern}"),
    "enum": ("应为 {expected} 之一", "must be one of {expected}"),
    "literal_error": ("应为 {expected} 之一", "must be one of {expected}"),
    "missing": ("必填", "is required"),
    "extra_forbidden": ("不是可用的字段", "is not a field this takes"),
    "json_invalid": ("不是有效的 JSON", "is not valid JSON"),
    "timezone_aware": ("需要时区（Z 或 +08:00）", "needs a time zone (Z or +08:00)"),
    "finite_number": ("应为有限数", "must be a finite number"),
    "multiple_of": ("应为 {multiple_of} 的倍数", "must be a multiple of {multiple_of}"),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One refused value: where, pydantic's type as the code, and the words."""

    field: str
    code: str
    zh: str
    en: str

    def words(self, lang: Lang) -> str:
        return self.zh if lang is Lang.ZH else self.en


def _words(error: ErrorDetails) -> tuple[str, str]:
    kind, ctx = error["type"], dict(error.get("ctx") or {})
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        ours = ctx["error"]  # raised by our own validators, in our words
        return getattr(ours, "zh", str(ours)), str(ours)
    if kind in _BOUNDS:
        zh, en = _BOUNDS[kind]
        return _fill(zh, ctx), _fill(en, ctx)
    for suffix in ("_parsing", "_type", "_from_datetime_parsing", "_from_datetime_inexact"):
        prefix = kind.removesuffix(suffix)
        if prefix != kind and prefix in _KINDS:
            zh, en = _KINDS[prefix]
            return f"应为{zh}", f"must be {en}"
    return "无效", "is not valid"


def _fill(template: str, ctx: dict[str, Any]) -> str:
    shown = {k: f"{v:g}" if isinstance(v, float) else v for k, v in ctx.items()}
    if isinstance(shown.get("expected"), str):  # pydantic's list "'a', 'b' or 'c'"
        shown["expected"] = shown["expected"].replace(" or ", ", ")
    try:
        return template.format(**shown)
    except (KeyError, IndexError):
        return template.split("{")[0].strip()


def problems(
    errors: Sequence[ErrorDetails], where: Callable[[tuple[int | str, ...]], str] | None = None
) -> list[Problem]:
    """Each refused value of pydantic's `errors` (a ValidationError's, or FastAPI's for a
    request); `where` spells a location (settings name theirs as environment variables)."""
    found = []
    for error in errors:
        loc = tuple(error["loc"])
        field = where(loc) if where else ".".join(str(p) for p in loc)
        zh, en = _words(error)
        found.append(Problem(field=field, code=error["type"], zh=zh, en=en))
    return found


def describe(
    exc: ValidationError,
    where: Callable[[tuple[int | str, ...]], str] | None = None,
    lang: Lang = Lang.EN,
) -> str:
    """The refused values in one line: `field: reason; field: reason`."""
    return "; ".join(
        f"{p.field}: {p.words(lang)}" if p.field else p.words(lang)
        for p in problems(exc.errors(), where)
    )
