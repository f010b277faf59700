"""Constrained types shared by schemas, the CLI and the ingest codecs."""

import re
from typing import Annotated

from pydantic import Field, StringConstraints

DEVICE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
DEVICE_ID_RE = re.compile(DEVICE_ID_PATTERN)

DeviceId = Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
ResidentId = Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
# as people write them: digits with an optional + and spaces or dashes (13800000001,
# +86 138 0000 0001, 027-8888-6666)
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 -]{3,22}[0-9]$")]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


def is_device_id(value: str) -> bool:
    return DEVICE_ID_RE.fullmatch(value) is not None
