"""Constrained types shared by schemas, the CLI and the ingest codecs."""

import re
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator, Field, StringConstraints

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
        raise ValueError(msg)
    return value


# a moment an API client names: RFC 3339 with its zone, never a bare number
Moment = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]


def is_device_id(value: str) -> bool:
    return DEVICE_ID_RE.fullmatch(value) is not None
