"""One base error for the project; each domain subclasses it.

The HTTP layer maps `status_code` to the response and answers with the error's `code`
beside its words, so a client acts on a code of the project's, never on a sentence (and
never on a library's); a domain error never needs to know about FastAPI.
"""


class AnxinError(Exception):
    """Base of every error Anxin raises on purpose. `code` is the class's, unless a
    raise names a more specific one (`Invalid(msg, code="bad_cursor")`)."""

    status_code = 500
    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    def details(self) -> dict[str, object]:
        """What the HTTP answer carries beside the message (e.g. the legal actions)."""
        return {}


class NotFound(AnxinError):
    status_code = 404
    code = "not_found"


class Conflict(AnxinError):
    status_code = 409
    code = "conflict"


class Invalid(AnxinError):
    status_code = 422
    code = "invalid"


class Unauthorized(AnxinError):
    status_code = 401
    code = "unauthorized"


class Forbidden(AnxinError):
    status_code = 403
    code = "forbidden"


class Unavailable(AnxinError):
    """Something the request needs (the broker) cannot be reached now."""

    status_code = 503
    code = "unavailable"
