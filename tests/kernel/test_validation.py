"""A refused value reads in the project's words, in either language, whatever pydantic's
own sentence for it is (a release may reword it; it is English only)."""

from enum import StrEnum
from typing import Literal

import pytest
from pydantic import BaseModel, Field, ValidationError, field_validator

from kernel.language import Lang
from kernel.validation import describe, problems


class Kind(StrEnum):
    WATCH = "watch"
    BAND = "band"


class Device(BaseModel, extra="forbid"):
    id: str = Field(pattern=r"^[a-z0-9-]+$", max_length=8)
    lat: float = Field(ge=-90, le=90)
    kind: Kind
    lang: Literal["zh-CN", "en"] = "zh-CN"
    interval_s: int = 60

    @field_validator("interval_s")
    @classmethod
    def _not_too_often(cls, value: int) -> int:
        if value < 300:
            msg = "最短 300 秒"
            raise ValueError(msg)
        return value


def refused(data: dict[str, object]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Device.model_validate(data)
    return caught.value


def test_each_refused_value_has_its_field_pydantics_code_and_our_words() -> None:
    exc = refused(
        {"id": "NOT OK!", "lat": 91, "kind": "phone", "lang": "fr", "interval_s": "x", "x": 1}
    )
    found = {p.field: (p.code, p.zh, p.en) for p in problems(exc.errors())}
    assert found == {
        "id": (
            "string_pattern_mismatch",
            "格式不符（^[a-z0-9-]+$）",
            "does not match ^[a-z0-9-]+$",
        ),
        "lat": ("less_than_equal", "应不大于 90", "must be at most 90"),
        "kind": ("enum", "应为 'watch', 'band' 之一", "must be one of 'watch', 'band'"),
        "lang": ("literal_error", "应为 'zh-CN', 'en' 之一", "must be one of 'zh-CN', 'en'"),
        "interval_s": ("int_parsing", "应为整数", "must be a whole number"),
        "x": ("extra_forbidden", "不是可用的字段", "is not a field this takes"),
    }
    for error in exc.errors():  # none of pydantic's sentences reaches a reader
        assert error["msg"] not in describe(exc)
        assert error["msg"] not in describe(exc, lang=Lang.ZH)


def test_our_validators_words_pass_through_and_a_missing_field_is_required() -> None:
    exc = refused({"lat": 1, "kind": "watch", "interval_s": 10})
    assert describe(exc) == "id: is required; interval_s: 最短 300 秒"
    assert describe(exc, lambda loc: "ANXIN_" + str(loc[0]).upper(), Lang.ZH) == (
        "ANXIN_ID: 必填; ANXIN_INTERVAL_S: 最短 300 秒"
    )
