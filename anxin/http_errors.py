"""How every refused request is answered: one shape, the project's code first.

`{"code": ..., "detail": one line, ...}`: an AnxinError's code and words (and what it
adds, such as the legal actions); a request FastAPI could not read gets the code
`invalid_request` and, per refused value, its field, pydantic's error type as the code
and the project's words for it (kernel.validation), in the reader's language
(Accept-Language, Simplified Chinese by default). The input is never echoed back.
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


async def _domain_error(_request: Request, exc: AnxinError) -> JSONResponse:
    body = {"code": exc.code, "detail": str(exc), **exc.details()}
    return JSONResponse(body, status_code=exc.status_code)


async def _unreadable(request: Request, exc: RequestValidationError) -> JSONResponse:
    lang = pick_language(request.headers.get("accept-language"), Lang.ZH)
    found = problems(exc.errors())
    errors = [{"field": p.field, "code": p.code, "message": p.words(lang)} for p in found]
    line = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return JSONResponse(
        {"code": "invalid_request", "detail": line, "errors": errors}, status_code=422
    )
