"""Community service points: the physical places that send help."""

from enum import StrEnum

from pydantic import BaseModel, Field

from kernel.types import DeviceId, Latitude, Longitude


class PointKind(StrEnum):
    COMPLEX = "complex"  # 街道养老服务综合体: street-level elderly-care complex
    STATION = "station"  # 社区养老服务站: community elderly-care service station


class ServicePointIn(BaseModel):
    id: DeviceId  # the same id rule as devices: [A-Za-z0-9_-]{1,64}
    name: str = Field(min_length=1, max_length=200)
    kind: PointKind
    lat: Latitude
    lon: Longitude
    address: str | None = Field(default=None, max_length=500)
