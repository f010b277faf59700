"""Constrained types shared by schemas, the CLI and the ingest codecs."""

import re
from typing import Annotated

from pydantic import Field, StringConstraints

DEVICE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
DEVICE_ID_RE = re.compile(DEVICE_ID_PATTERN)

DeviceId = Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
ResidentId = Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


def is_device_id(value: str) -> bool:
    return DEVICE_ID_RE.fullmatch(value) is not None
