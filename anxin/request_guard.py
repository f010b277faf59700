"""What no route ever sees: a body over the limit, and text the database cannot hold.

Refused here, in one place, before any route parses anything:

- a body larger than `ANXIN_MAX_BODY_BYTES` (1 MB): 413 by its Content-Length, or as soon
  as a streamed body passes the limit, before a byte of it is decoded;
- in the path, the query or a JSON body: a NUL character or invalid UTF-8 (PostgreSQL
  refuses NUL in text), a lone UTF-16 surrogate escape (`\\ud800`: no UTF-8 can encode
  it), `NaN` or `Infinity` (not JSON, though Python's parser takes them), nesting deeper
  than any request needs: 422 with the field named.

The answer is the API's error model (anxin.http_errors): a code, the message in the
reader's language, the English detail, and per field its code and words. It never
echoes the input back.
"""

import json
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.language import Lang, pick_language

# deeper than this, no request of the API's is meant (its deepest is a few levels)
MAX_DEPTH = 64

# code: (Chinese, English), each with {field}
WORDS = {
    "nul_character": ("{field} 含有空字符（NUL），无法保存", "{field} contains a NUL character"),
    "lone_surrogate": (
        "{field} 含有不成对的 UTF-16 代理字符，无法保存",
        "{field} contains an unpaired UTF-16 surrogate",
    ),
    "not_utf8": ("{field} 不是有效的 UTF-8 文本", "{field} is not valid UTF-8"),
    "not_finite": (
        "{field} 含有 NaN 或 Infinity，JSON 中没有这种数",
        "{field} has NaN or Infinity",
    ),
    "too_deep": ("{field} 嵌套过深", "{field} is nested too deeply"),
    "not_json": ("{field} 不是有效的 JSON", "{field} is not valid JSON"),
}


class Refused(Exception):
    def __init__(self, code: str, field: str) -> None:
        super().__init__(code)
        self.code, self.field = code, field


class RequestGuard:
    """ASGI middleware: refuses what is above before the app sees the request."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        lang = pick_language(headers.get(b"accept-language", b"").decode("latin-1"), Lang.ZH)
        try:
            _check_url(scope)
            declared = headers.get(b"content-length")
            if declared is not None and _too_long(declared, self.max_body_bytes):
                await _too_large(send, self.max_body_bytes, lang)
                return
            body = await _body(receive, self.max_body_bytes)
            if body is None:
                await _too_large(send, self.max_body_bytes, lang)
                return
            if body and b"json" in headers.get(b"content-type", b""):
                _check_json(body)
        except Refused as refused:
            await _refuse(send, refused, lang)
            return
        await self.app(scope, _replay(body, receive), send)


def _too_long(declared: bytes, limit: int) -> bool:
    try:
        return int(declared) > limit
    except ValueError:
        return False  # the server answers a malformed length itself


async def _body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes the limit."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read here, then whatever else the client sends (a disconnect)."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def _check_url(scope: Scope) -> None:
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    _check_text(unquote_to_bytes(raw_path), "path")
    query = scope.get("query_string", b"").decode("latin-1")
    # latin-1 keeps each percent-decoded byte as it was, to be checked as UTF-8 here
    for name, value in parse_qsl(query, keep_blank_values=True, encoding="latin-1"):
        raw_name = name.encode("latin-1")
        field = f"query.{_printable(raw_name)}"
        _check_text(raw_name, field)
        _check_text(value.encode("latin-1"), field)


def _printable(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").replace("\x00", "?")[:64]


def _check_text(raw: bytes, field: str) -> None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("not_utf8", field) from None
    if "\x00" in text:
        raise Refused("nul_character", field)


def _check_json(body: bytes) -> None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("not_utf8", "body") from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except Refused:
        raise
    except RecursionError:
        raise Refused("too_deep", "body") from None
    except ValueError:
        return  # not JSON: the route's own parser says so (json_invalid)
    _walk(value, "body", 0)


def _no_constant(_name: str) -> Any:
    raise Refused("not_finite", "body")


def _walk(value: Any, field: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise Refused("too_deep", field)
    if isinstance(value, str):
        _check_string(value, field)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_string(key, field)
            _walk(item, f"{field}.{_printable(key.encode('utf-8', 'replace'))}", depth + 1)
    elif isinstance(value, list):
        for k, item in enumerate(value):
            _walk(item, f"{field}.{k}", depth + 1)


def _check_string(text: str, field: str) -> None:
    if "\x00" in text:
        raise Refused("nul_character", field)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused("lone_surrogate", field) from None


async def _refuse(send: Send, refused: Refused, lang: Lang) -> None:
    zh, en = (w.format(field=refused.field) for w in WORDS[refused.code])
    message = zh if lang is Lang.ZH else en
    error = {"field": refused.field, "code": refused.code, "message": message}
    body = {"code": "invalid_request", "message": message, "detail": en, "errors": [error]}
    await _answer(send, 422, body, close=False)


async def _too_large(send: Send, limit: int, lang: Lang) -> None:
    zh = f"请求体超过 {limit} 字节的上限"
    en = f"the request body is over the limit of {limit} bytes"
    body = {"code": "body_too_large", "message": zh if lang is Lang.ZH else en, "detail": en}
    await _answer(send, 413, body, close=True)


async def _answer(send: Send, status: int, body: dict[str, Any], *, close: bool) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if close:  # the client may still be sending a body nobody will read
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


# What the guard refuses, said in the OpenAPI document, so that a client (or a fuzzer)
# that reads it sends nothing the guard refuses: every text is "no NUL", and a value
# the API takes as any JSON is any JSON whose texts and keys have no NUL. (Invalid
# UTF-8, lone surrogates and NaN are not JSON text at all; no schema needs to say so.)
NO_NUL = "^[^\\u0000]*$"
CLEAN_JSON = "CleanJson"
_CLEAN_JSON_SCHEMA: dict[str, Any] = {
    "description": "any JSON value whose texts and keys hold no NUL character",
    "anyOf": [
        {"type": "string", "pattern": NO_NUL},
        {"type": ["number", "boolean", "null"]},
        {"type": "array", "items": {"$ref": f"#/components/schemas/{CLEAN_JSON}"}},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": {"$ref": f"#/components/schemas/{CLEAN_JSON}"},
        },
    ],
}


def describe(document: dict[str, Any]) -> None:
    """Write the guard's rules into an OpenAPI document, in place."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in components.items():
        components[name] = _said(schema)
    components[CLEAN_JSON] = _CLEAN_JSON_SCHEMA
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if not parameter.get("required"):
                    # an optional parameter is absent or a value: `null` is not a value
                    # a query or a header can carry (it would be the text "null")
                    schema = _without_null(schema)
                parameter["schema"] = _said(schema)
            for media in operation.get("requestBody", {}).get("content", {}).values():
                media["schema"] = _said(media.get("schema", {}))


def _said(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_said(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if not schema or schema == {"additionalProperties": True}:
        return {"$ref": f"#/components/schemas/{CLEAN_JSON}"}
    said = {k: _said(v) if k not in ("properties", "$defs") else v for k, v in schema.items()}
    for key in ("properties", "$defs"):
        if isinstance(schema.get(key), dict):
            said[key] = {name: _said(s) for name, s in schema[key].items()}
    if said.get("type") == "string" and not ({"pattern", "enum", "const", "format"} & set(said)):
        said["pattern"] = NO_NUL
    if said.get("type") == "object" and said.get("additionalProperties", True) is not False:
        said.setdefault("propertyNames", {"pattern": NO_NUL})
        if said.get("additionalProperties", True) is True:
            said["additionalProperties"] = {"$ref": f"#/components/schemas/{CLEAN_JSON}"}
    return said


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if not isinstance(options, list):
        return schema
    kept = [o for o in options if o != {"type": "null"}]
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**rest, **kept[0]} if len(kept) == 1 else {**rest, "anyOf": kept}
