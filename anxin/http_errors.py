"""How every refused request is answered: one shape, the project's code first.

`{"code": ..., "message": ..., "detail": ..., ...}`: the error's code; `message` in the
reader's language (Accept-Language, Simplified Chinese by default), what a page shows;
`detail` in English, for logs and scripts; and what the error adds (the legal actions).
A request FastAPI could not read gets the code `invalid_request` and, per refused value,
its field, pydantic's error type as the code and the project's words for it
(kernel.validation). The input is never echoed back.
"""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from kernel.errors import AnxinError
from kernel.language import Lang, pick_language
from kernel.validation import problems


def install(app: FastAPI) -> None:
    app.add_exception_handler(AnxinError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _unreadable)  # type: ignore[arg-type]


def _language(request: Request) -> Lang:
    return pick_language(request.headers.get("accept-language"), Lang.ZH)


async def _domain_error(request: Request, exc: AnxinError) -> JSONResponse:
    message = exc.zh if _language(request) is Lang.ZH else str(exc)
    body = {"code": exc.code, "message": message, "detail": str(exc), **exc.details()}
    return JSONResponse(body, status_code=exc.status_code)


async def _unreadable(request: Request, exc: RequestValidationError) -> JSONResponse:
    lang = _language(request)
    found = problems(exc.errors())
    errors = [{"field": p.field, "code": p.code, "message": p.words(lang)} for p in found]
    message = "; ".join(f"{p.field}: {p.words(lang)}" for p in found)
    detail = "; ".join(f"{p.field}: {p.en}" for p in found)
    body = {"code": "invalid_request", "message": message, "detail": detail, "errors": errors}
    return JSONResponse(body, status_code=422)
