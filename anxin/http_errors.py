"""How every refused request is answered: one shape, the project's code first.

`{"code": ..., "message": ..., "detail": ..., ...}`: the error's code; `message` in the
reader's language (Accept-Language, Simplified Chinese by default), what a page shows;
`detail` in English, for logs and scripts; and what the error adds (the legal actions).
A request FastAPI could not read gets the code `invalid_request` and, per refused value,
its field, pydantic's error type as the code and the project's words for it
(kernel.validation). The input is never echoed back.
"""

import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alerts.lifecycle import Action
from anxin import request_guard
from kernel.errors import AnxinError
from kernel.language import Lang, pick_language
from kernel.validation import problems

log = logging.getLogger("anxin.http")


def install(app: FastAPI) -> None:
    app.add_exception_handler(AnxinError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _unreadable)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _no_such_route)  # type: ignore[arg-type]
    for refused in (psycopg.errors.IntegrityError, psycopg.errors.DataError):
        app.add_exception_handler(refused, _refused_by_database)  # type: ignore[arg-type]
    document(app)


def _language(request: Request) -> Lang:
    return pick_language(request.headers.get("accept-language"), Lang.ZH)


async def _domain_error(request: Request, exc: AnxinError) -> JSONResponse:
    message = exc.zh if _language(request) is Lang.ZH else str(exc)
    body = {"code": exc.code, "message": message, "detail": str(exc), **exc.details()}
    return JSONResponse(body, status_code=exc.status_code)


# what Starlette itself refuses, before any route: no such path, a method it does not take
_ROUTING = {
    404: ("not_found", "没有这个地址", "no such path"),
    405: ("method_not_allowed", "这个地址不接受该请求方法", "this path does not take that method"),
}


async def _no_such_route(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code, zh, en = _ROUTING.get(exc.status_code, ("refused", "请求被拒绝", "refused"))
    message = zh if _language(request) is Lang.ZH else en
    body = {"code": code, "message": message, "detail": en}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _unreadable(request: Request, exc: RequestValidationError) -> JSONResponse:
    lang = _language(request)
    found = problems(exc.errors())
    errors = [{"field": p.field, "code": p.code, "message": p.words(lang)} for p in found]
    message = "; ".join(f"{p.field}: {p.words(lang)}" for p in found)
    detail = "; ".join(f"{p.field}: {p.en}" for p in found)
    body = {"code": "invalid_request", "message": message, "detail": detail, "errors": errors}
    return JSONResponse(body, status_code=422)


async def _refused_by_database(request: Request, exc: psycopg.Error) -> JSONResponse:
    """The last line of defence: a value or a state the database's own rules refuse
    (a CHECK, a key) that no check before it caught. A 4xx with a code, one log line."""
    integrity = isinstance(exc, psycopg.errors.IntegrityError)
    status, code = (409, "conflict_in_database") if integrity else (422, "value_refused")
    log.warning(
        "%s %s refused by the database: SQLSTATE %s%s",
        request.method,
        request.url.path,
        exc.sqlstate,
        f", constraint {exc.diag.constraint_name}" if exc.diag.constraint_name else "",
    )
    zh = "与现有数据冲突，未保存" if integrity else "数据库不接受这个值，未保存"
    en = (
        "refused by the database: it conflicts with what is stored"
        if integrity
        else ("refused by the database: a value it cannot store")
    )
    message = zh if _language(request) is Lang.ZH else en
    return JSONResponse({"code": code, "message": message, "detail": en}, status_code=status)


class CatchAll:
    """ASGI middleware, outermost of the app's own: an error nobody handled is a 500
    that says only a request id (the log has the traceback under that id), answered
    here so the connection stays usable for the client's next request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            request_id = uuid.uuid4().hex[:12]
            log.exception("request %s failed: %s %s", request_id, scope["method"], scope["path"])
            if started:  # too late for an answer of its own: the connection ends
                raise
            body = {
                "code": "internal_error",
                "message": f"服务器内部错误，请求号 {request_id}",
                "detail": f"internal error; request id {request_id}",
                "request_id": request_id,
            }
            await JSONResponse(body, status_code=500)(scope, receive, send)


class FieldError(BaseModel):
    field: str = Field(description="where: body.note, query.limit, path")
    code: str = Field(description="what is wrong, as a code (pydantic's type, or ours)")
    message: str = Field(description="in the reader's language")


class ErrorOut(BaseModel):
    """Every refusal: the project's code first; `message` in the reader's language
    (Accept-Language, Simplified Chinese by default), `detail` in English. An illegal
    action adds `status` and `legal_actions`; an internal error `request_id`."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    detail: str
    errors: list[FieldError] | None = None


# what each refusal means, for the document
_MEANING = {
    "401": "no token, or a malformed, unknown or revoked one",
    "403": "the caller's role may not do this",
    "404": "no such object, or one outside the caller's scope (nobody learns which)",
    "409": "not legal in the object's state now; says what is",
    "413": "the body is over ANXIN_MAX_BODY_BYTES: refused before it is read",
    "422": "a value refused, with each field named (never echoed back)",
    "503": "something the request needs is out of reach now (the broker)",
}
_ACTIONS = ("/{action}", "/dispatch", "/session", *(f"/{a}" for a in Action))


def document(app: FastAPI) -> None:
    """Make the OpenAPI document say what the API answers: every refusal an operation
    can give, in the one error model above (FastAPI documents only its own 422, in
    another shape)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        model = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(model.pop("$defs", {}))
        components["ErrorOut"] = model
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                operation["responses"] = {
                    **{k: v for k, v in operation["responses"].items() if k != "422"},
                    **{status: _refusal(status) for status in _refusals(path, method, operation)},
                }
        request_guard.describe(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _refusals(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    statuses = ["422"]  # any path, query or body can carry what is refused at the edge
    if operation.get("security") or path == "/api/v1/me":
        statuses += ["401", "403"]
    elif path == "/api/v1/session" and method == "post":
        statuses.append("401")  # the token given to log in is refused
    if "{" in path or path == "/api/v1/dispatch":  # dispatch: the alerts its body names
        statuses.append("404")
    changes = method in ("post", "put", "delete") and (path.endswith(_ACTIONS) or method == "put")
    # suggestions: nowhere to measure from (no home on record, no fix from the device)
    if changes or path.endswith("/suggestions"):
        statuses.append("409")
    if "requestBody" in operation:
        statuses.append("413")
    if path.endswith("/commands") and method == "post":
        statuses.append("503")
    return sorted(statuses)


def _refusal(status: str) -> dict[str, Any]:
    return {
        "description": _MEANING[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }


class AllowHeader:
    """ASGI middleware: a 405 lists every method of the resource in `Allow` (Starlette
    names only those of the first route that matched the path, so GET and PUT on one
    path answered `Allow: GET`). The methods come from the OpenAPI document."""

    def __init__(self, app: ASGIApp, *, document: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self._document = document
        self._paths: list[tuple[re.Pattern[str], set[str]]] | None = None

    def _methods(self, path: str) -> set[str]:
        if self._paths is None:
            self._paths = [
                (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"),
                 {m.upper() for m in operations})
                for template, operations in self._document().get("paths", {}).items()
            ]  # fmt: skip
        found: set[str] = set()
        for pattern, methods in self._paths:
            if pattern.match(path):
                found |= methods
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = self._methods(scope["path"])
                if methods:
                    if "GET" in methods:
                        methods.add("HEAD")
                    headers = [(k, v) for k, v in message.get("headers", []) if k != b"allow"]
                    headers.append((b"allow", ", ".join(sorted(methods)).encode()))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_allow)
