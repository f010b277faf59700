"""One base error for the project; each domain subclasses it.

The HTTP layer maps `status_code` to the response, so a domain error never
needs to know about FastAPI.
"""

from collections.abc import Callable

from pydantic import ValidationError


class AnxinError(Exception):
    """Base of every error Anxin raises on purpose."""

    status_code = 500

    def details(self) -> dict[str, object]:
        """What the HTTP answer carries beside the message (e.g. the legal actions)."""
        return {}


class NotFound(AnxinError):
    status_code = 404


class Conflict(AnxinError):
    status_code = 409


class Invalid(AnxinError):
    status_code = 422


class Unauthorized(AnxinError):
    status_code = 401


class Forbidden(AnxinError):
    status_code = 403


class Unavailable(AnxinError):
    """Something the request needs (the broker) cannot be reached now."""

    status_code = 503


def describe(
    exc: ValidationError, name: Callable[[tuple[int | str, ...]], str] | None = None
) -> str:
    """pydantic's report in one line: `field: reason; field: reason`. `name` spells a
    field's location (settings name theirs as environment variables)."""
    problems = []
    for error in exc.errors():
        where = name(error["loc"]) if name else ".".join(str(p) for p in error["loc"])
        reason = error["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {reason}" if where else reason)
    return "; ".join(problems)
