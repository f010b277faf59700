"""Our own validators speak both languages: a Chinese reader of a refused request body
gets Chinese words, not the English message."""

import pytest
from pydantic import ValidationError

from devices.models import ResidentProfile
from kernel.language import Lang
from kernel.validation import problems


@pytest.mark.parametrize(
    ("body", "zh", "en"),
    [
        ({"name": "王秀英", "home_lat": 30.6}, "住址纬度和经度须同时填写或同时留空",
         "home_lat and home_lon go together"),
        ({"name": "王秀英", "birth_date": 0}, "应为文本形式的日期，例如 1946-03-08",
         "expected a date as text, e.g. 1946-03-08"),
    ],
)  # fmt: skip
def test_a_rule_of_our_own_is_refused_in_the_readers_language(
    body: dict[str, object], zh: str, en: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        ResidentProfile.model_validate(body)
    (problem,) = problems(refused.value.errors())
    assert (problem.words(Lang.ZH), problem.words(Lang.EN)) == (zh, en)
