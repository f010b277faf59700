"""Community service points and their on-call staff: the physical places that send
help, what each can do, when it is open and how much it can take at once."""

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, field_validator

from kernel.types import DeviceId, Latitude, Longitude, PhoneNumber
from kernel.validation import Refused


class PointKind(StrEnum):
    COMPLEX = "complex"  # 街道养老服务综合体: street-level elderly-care complex
    STATION = "station"  # 社区养老服务站 / 网点: community service point
    HEALTH_CENTRE = "health_centre"  # 社区卫生服务中心: community health centre
    CARE_HOME = "care_home"  # 养老院


class Capability(StrEnum):
    EMERGENCY = "emergency"  # 助急
    MEDICAL = "medical"  # 助医
    NURSING = "nursing"
    MEAL = "meal"  # 助餐
    BATH = "bath"  # 助浴
    CLEANING = "cleaning"  # 助洁
    ESCORT = "escort"  # 助行
    ALWAYS_OPEN = "24h"


class Channel(StrEnum):
    SMS = "sms"
    WECOM = "wecom"
    DINGTALK = "dingtalk"
    WEBHOOK = "webhook"


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class WeekHours(BaseModel):
    """When something is open (or someone on shift): per weekday, minute ranges from
    midnight. Written as `mon-fri 08:00-20:00; sat,sun 09:00-12:00,14:00-17:00`,
    `daily 07:00-19:00` or `24h`; a range past midnight (22:00-06:00) runs into the
    next day."""

    days: list[list[tuple[int, int]]] = Field(min_length=7, max_length=7)

    @classmethod
    def parse(cls, text: str) -> "WeekHours":
        days: list[list[tuple[int, int]]] = [[] for _ in DAYS]
        spec = text.strip().lower()
        if spec in ("24h", "24/7"):
            return cls(days=[[(0, 1440)] for _ in DAYS])
        for part in filter(None, (p.strip() for p in spec.split(";"))):
            which, _, ranges = part.partition(" ")
            weekdays = _weekdays(which)
            for span in filter(None, (r.strip() for r in ranges.split(","))):
                start, end = _minutes(span)
                for d in weekdays:
                    if end > start:
                        days[d].append((start, end))
                    else:  # overnight: the rest of this day, the start of the next
                        days[d].append((start, 1440))
                        days[(d + 1) % 7].append((0, end))
        if not any(days):
            msg = f"no opening hours in {text!r}"
            raise Refused(msg, zh=f"{text!r} 中没有营业时间")
        return cls(days=[sorted(d) for d in days])

    def open_at(self, when: datetime) -> bool:
        """`when` in the service's local time."""
        minute = when.hour * 60 + when.minute
        return any(start <= minute < end for start, end in self.days[when.weekday()])


def _weekdays(which: str) -> list[int]:
    if which == "daily":
        return list(range(7))
    out: list[int] = []
    for piece in which.split(","):
        first, _, last = piece.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            msg = f"unknown day {piece!r} (mon..sun, a range like mon-fri, or daily)"
            raise Refused(
                msg, zh=f"无法识别的日期 {piece!r}（mon..sun、mon-fri 这样的范围，或 daily）"
            )
        a, b = DAYS.index(first), DAYS.index(last or first)
        out += list(range(a, b + 1)) if a <= b else [*range(a, 7), *range(0, b + 1)]
    return out


def _minutes(span: str) -> tuple[int, int]:
    match = _RANGE.match(span)
    if match is None:
        msg = f"expected HH:MM-HH:MM, got {span!r}"
        raise Refused(msg, zh=f"应为 HH:MM-HH:MM，收到 {span!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
        msg = f"no such time in {span!r}"
        raise Refused(msg, zh=f"{span!r} 中的时间不存在")
    return h1 * 60 + m1, h2 * 60 + m2


def _hours(value: Any) -> Any:
    return WeekHours.parse(value) if isinstance(value, str) else value


def _words(value: Any) -> Any:
    """`emergency;nursing` (a CSV cell) or a list."""
    if isinstance(value, str):
        return [w.strip() for w in re.split(r"[;,|]", value) if w.strip()]
    return value


Hours = Annotated[WeekHours, BeforeValidator(_hours)]


class ServicePointIn(BaseModel):
    id: DeviceId  # the same id rule as devices: [A-Za-z0-9_-]{1,64}
    name: str = Field(min_length=1, max_length=200)
    kind: PointKind
    lat: Latitude
    lon: Longitude
    address: str | None = Field(default=None, max_length=500)
    district: str | None = Field(default=None, max_length=100)
    capabilities: Annotated[list[Capability], BeforeValidator(_words)] = Field(default_factory=list)
    # None: always open if it has the 24h capability, else never (it must say when)
    hours: Hours | None = None
    # how many incidents it can have on the way or on scene at once
    capacity: int = Field(default=2, ge=0, le=1000)
    # how long its on-call person has to accept before the next point is asked
    accept_within_s: int = Field(default=180, ge=10, le=3600)

    @field_validator("capabilities")
    @classmethod
    def _no_repeats(cls, value: list[Capability]) -> list[Capability]:
        return list(dict.fromkeys(value))


class StaffIn(BaseModel):
    id: DeviceId
    point_id: DeviceId
    name: str = Field(min_length=1, max_length=100)
    phone: PhoneNumber
    channels: Annotated[list[Channel], BeforeValidator(_words)] = Field(
        default_factory=lambda: [Channel.SMS]
    )
    shifts: Hours
    on_call: bool = True
