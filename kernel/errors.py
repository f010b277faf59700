"""One base error for the project; each domain subclasses it.

The HTTP layer maps `status_code` to the response, so a domain error never
needs to know about FastAPI.
"""


class AnxinError(Exception):
    """Base of every error Anxin raises on purpose."""

    status_code = 500


class NotFound(AnxinError):
    status_code = 404


class Conflict(AnxinError):
    status_code = 409


class Invalid(AnxinError):
    status_code = 422
