"""Damaged payloads: clean what PostgreSQL would refuse, and never lose an emergency.

PostgreSQL refuses a NUL character in `text` and in `jsonb` (`\\u0000`), and the JSON
parser refuses invalid UTF-8, lone surrogate escapes and deep nesting. A payload
carrying any of these either has the damaged part cleaned before the database sees it,
or is dead-lettered with a reason that says which.

An SOS, fall, smoke, gas or water-leak event is worth more than its optional fields:
if those are damaged, the event is kept without them (the damage is written into its
`data` under `"damaged"`), so it is stored and alerted all the same. Each note there
has a `code` and its values for software, and the sentence in Simplified Chinese (what
an operator reads) and in English.
"""

import re
from typing import Any

import msgspec

from ingest.diagnosis import LONE_SURROGATE, unreadable
from ingest.refusals import render

Damage = dict[str, object]


def note(code: str, *, zh: str, en: str, **values: object) -> Damage:
    """One note of what was damaged in an event, for its `data.damaged` list."""
    return {"code": code, **values, "zh-CN": zh, "en": en}


REPLACEMENT = "\ufffd"
NUL_ESCAPE = b"\\u0000"

# The top-level fields of an event, found without parsing (for a payload the parser
# cannot read at all, e.g. nested thousands deep). Used only to rescue an emergency.
_TYPE = re.compile(rb'"type"\s*:\s*"([a-z_]{1,32})"')
_TS = re.compile(rb'"ts"\s*:\s*(-?[0-9]+(?:\.[0-9]+)?|"[0-9T:.+\-Z ]{10,40}")')
_ID = re.compile(rb'"id"\s*:\s*"([A-Za-z0-9_:.\-]{1,128})"')


def repaired(payload: bytes) -> bytes | None:
    """The payload with invalid UTF-8 and lone surrogate escapes replaced, or None
    when there was nothing of that kind to repair."""
    text = payload.decode("utf-8", errors="replace").encode()
    text = LONE_SURROGATE.sub(b"\\\\ufffd", text)
    return None if text == payload else text


def without_nul(value: Any) -> Any:
    """A decoded JSON value with every NUL in its strings and keys replaced."""
    if isinstance(value, str):
        return value.replace("\x00", REPLACEMENT)
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


class LooseEvent(msgspec.Struct):
    """An event's fields before any is checked, so each can be judged on its own."""

    type: Any = None
    ts: Any = None
    id: Any = None
    seq: Any = None
    data: Any = None


_LOOSE = msgspec.json.Decoder(LooseEvent)


def loose_event(payload: bytes) -> tuple[LooseEvent, list[Damage]]:
    """The event's fields as far as they can be read, and what was damaged.

    First a repaired parse (bad UTF-8, lone surrogates); if the payload still cannot
    be parsed, the top-level `type`, `ts` and `id` are found by pattern. The caller
    decides whether what is left is worth keeping (an emergency is).
    """
    damage: list[Damage] = []
    fixed = repaired(payload)
    if fixed is not None:
        damage.append(
            note(
                "text_repaired",
                zh="无效的 UTF-8 或不成对的代理字符已替换",
                en="invalid UTF-8 or unpaired surrogates replaced",
            )
        )
        payload = fixed
    try:
        return _LOOSE.decode(payload), damage
    except (msgspec.DecodeError, RecursionError):
        code, values = unreadable(payload)
        reason = render(code, {"channel": "event", **values})
        damage.append(
            note(
                "payload_unreadable",
                detail=str(code),
                zh="报文无法完整解析，已找回事件类型和时间",
                en=f"payload unreadable ({reason}); type and ts recovered",
            )
        )
    event = LooseEvent()
    if len(types := _TYPE.findall(payload)) == 1:  # more than one: which is the event's?
        event.type = types[0].decode()
    if ts := _TS.search(payload):
        event.ts = msgspec.json.decode(ts[1])
    if ident := _ID.search(payload):
        event.id = ident[1].decode()
    return event, damage
