"""Constrained types shared by schemas, the CLI and the ingest codecs."""

import re
from datetime import date
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)

from kernel.validation import Refused

DEVICE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
DEVICE_ID_RE = re.compile(DEVICE_ID_PATTERN)

DeviceId = Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
ResidentId = Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
# as people write them: digits with an optional + and spaces or dashes (13800000001,
# +86 138 0000 0001, 027-8888-6666)
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 -]{3,22}[0-9]$")]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


def _rfc3339_only(value: object) -> object:
    # pydantic reads "0.5" or "1700000000" as Unix time; the API says RFC 3339
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+(\.\d*)?\s*", value):
        msg = "expected an RFC 3339 time with its zone, e.g. 2026-11-23T00:00:00+08:00"
        raise Refused(msg, zh="应为带时区的 RFC 3339 时间，例如 2026-11-23T00:00:00+08:00")
    return value


# a moment an API client names: RFC 3339 with its zone, never a bare number
Moment = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]

# Ids a client may name: bigserial's range, cut to what a JSON number holds exactly
# (a client in JavaScript, or a fuzzer reading the schema's bound as a double, would
# otherwise send 2**63 + 191 believing it within 2**63 - 1)
MAX_ID = 2**53 - 1


def _text_only(value: object) -> object:
    # lax pydantic reads a number as a date (0 is 1970-01-01); JSON has no dates
    if not isinstance(value, str | date):
        msg = "expected a date as text, e.g. 1946-03-08"
        raise Refused(msg, zh="应为文本形式的日期，例如 1946-03-08")
    return value


def number_only(value: object) -> object:
    # JSON Schema's integer is any number without a fraction (184.0 is one), never text
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = "expected a whole number"
        raise Refused(msg, zh="应为整数")
    return value


# a whole number in a request body: 184 or 184.0, not "184" nor true
Whole = Annotated[int, Strict(False), BeforeValidator(number_only)]

# a calendar day in a request body: ISO 8601 text
Day = Annotated[date, Strict(False), BeforeValidator(_text_only)]


class RequestBody(BaseModel):
    """A request body: exactly the fields the OpenAPI document names, each of its own
    JSON type. pydantic's lax mode would take "5" for 5, 0 for false and an unknown
    key silently, none of which the document allows. JSON has no enums or dates, so
    those fields say `Strict(False)` (or use Day) to be read from their text."""

    model_config = ConfigDict(extra="forbid", strict=True)


def is_device_id(value: str) -> bool:
    return DEVICE_ID_RE.fullmatch(value) is not None
