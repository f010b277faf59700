"""What is wrong with a payload the decoder refused, found by looking at it ourselves.

Only a refused payload comes here, so the fast path stays one typed decode. The reason
never comes from the decoder's message: the bytes are checked (UTF-8, surrogate
escapes, NaN, nesting depth), and a payload that parses is checked field by field
against the schema's own types and bounds (`msgspec.inspect`).
"""

import re
from dataclasses import dataclass
from typing import Any

import msgspec
import msgspec.inspect as mi
import numpy as np

from ingest.refusals import Refusal

Finding = tuple[Refusal, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Bytes that are no JSON document, and why."""

    code: Refusal
    values: dict[str, Any]


# Only surrogate escapes that do not form a pair: a high one not followed by a low
# one, or a low one not preceded by a high one.
LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_FINITE = re.compile(rb"(?<![A-Za-z0-9_])(?:NaN|-?Infinity)(?![A-Za-z0-9_])")
# Deeper than this is refused as too deep, whatever the parser's own limit.
MAX_DEPTH = 500
_OPEN = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSE = np.frombuffer(b"]}", dtype=np.uint8)
_decode_any = msgspec.json.Decoder().decode


def depth(payload: bytes) -> int:
    """How deeply the payload's arrays and objects nest (strings left out)."""
    bare = np.frombuffer(_STRING.sub(b'""', payload), dtype=np.uint8)
    steps = np.isin(bare, _OPEN).astype(np.int32) - np.isin(bare, _CLOSE).astype(np.int32)
    return int(np.cumsum(steps).max(initial=0))


def unreadable(payload: bytes) -> Finding:
    """Why bytes that are not a JSON document are not one."""
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Refusal.NOT_UTF8, {"at": exc.start}
    if LONE_SURROGATE.search(payload):
        return Refusal.LONE_SURROGATE, {}
    if _NOT_FINITE.search(_STRING.sub(b'""', payload)):
        return Refusal.NOT_FINITE, {}
    levels = depth(payload)
    if levels > MAX_DEPTH:
        return Refusal.TOO_DEEP, {"depth": levels}
    return Refusal.NOT_JSON, {}


def parse(payload: bytes) -> Any:
    """The payload as plain JSON values, or Unreadable. A payload deeper than MAX_DEPTH
    is refused before it is parsed, whatever the parser would do with it."""
    if payload.count(b"[") + payload.count(b"{") > MAX_DEPTH and depth(payload) > MAX_DEPTH:
        return Unreadable(*unreadable(payload))
    try:
        return _decode_any(payload)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return Unreadable(*unreadable(payload))


def json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def diagnose(payload: bytes, schema: type[msgspec.Struct]) -> Finding:
    """Why the typed decode of `payload` as `schema` failed."""
    parsed = parse(payload)
    if isinstance(parsed, Unreadable):
        return parsed.code, parsed.values
    return invalid(parsed, schema)


def invalid(body: object, schema: type[msgspec.Struct]) -> Finding:
    """The first field of `body` that `schema` refuses, and why."""
    if not isinstance(body, dict):
        return Refusal.NOT_OBJECT, {"got": json_kind(body)}
    info = mi.type_info(schema)
    assert isinstance(info, mi.StructType)
    hints = {f.name: f.type for f in msgspec.structs.fields(schema)}
    for field in info.fields:
        if field.encode_name not in body:
            if field.required:
                return Refusal.FIELD_MISSING, {"field": field.encode_name}
            continue
        value = body[field.encode_name]
        try:
            msgspec.convert(value, hints[field.name])
        except msgspec.ValidationError:
            return _why(field.encode_name, value, field.type)
    return Refusal.FIELD_INVALID, {"field": "?"}


def _why(name: str, value: object, kind: mi.Type) -> Finding:
    options = [t for t in _members(kind) if not isinstance(t, mi.NoneType)]
    excerpt = value if isinstance(value, int | float | bool) else str(value)[:40]
    for option in options:
        if isinstance(option, mi.EnumType):
            return Refusal.UNKNOWN_EVENT_TYPE, {"field": name, "value": excerpt}
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if isinstance(option, mi.IntType | mi.FloatType) and number:
            low = _first(option.ge, option.gt)
            high = _first(option.le, option.lt)
            return Refusal.FIELD_OUT_OF_RANGE, {
                "field": name, "value": value, "min": low, "max": high,
            }  # fmt: skip
        if isinstance(option, mi.StrType) and isinstance(value, str):
            return Refusal.FIELD_TOO_LONG, {
                "field": name, "min": option.min_length or 0, "max": option.max_length,
            }  # fmt: skip
    return Refusal.FIELD_WRONG_TYPE, {"field": name, "expected": _expected(options)}


def _members(kind: mi.Type) -> tuple[mi.Type, ...]:
    return kind.types if isinstance(kind, mi.UnionType) else (kind,)


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _expected(options: list[mi.Type]) -> str:
    if any(isinstance(t, mi.DateTimeType) for t in options):
        return "time"
    first = options[0] if options else None
    if isinstance(first, mi.IntType):
        return "integer"
    if isinstance(first, mi.FloatType):
        return "number"
    if isinstance(first, mi.StrType):
        return "string"
    if isinstance(first, mi.BoolType):
        return "boolean"
    if isinstance(first, mi.DictType | mi.StructType):
        return "object"
    return "?"
