"""Our own validators speak both languages: a Chinese reader of a refused request body
gets Chinese words, not the English message."""

import pytest
from pydantic import BaseModel, ValidationError

from access.accounts import UserIn
from devices.models import DeviceIn, ResidentProfile
from dispatch.models import ServicePointIn
from kernel.language import Lang
from kernel.validation import problems

POINT = {"id": "sp1", "name": "一元路站", "kind": "station", "lat": 30.6, "lon": 114.3}


@pytest.mark.parametrize(
    ("model", "body", "zh", "en"),
    [
        (ResidentProfile, {"name": "王秀英", "home_lat": 30.6},
         "住址纬度和经度须同时填写或同时留空", "home_lat and home_lon go together"),
        (ResidentProfile, {"name": "王秀英", "birth_date": 0},
         "应为文本形式的日期，例如 1946-03-08", "expected a date as text, e.g. 1946-03-08"),
        (UserIn, {"name": "sp", "role": "service_point"},
         "服务点账号须指定服务点（--service-point）",
         "a service_point user needs --service-point"),
        (DeviceIn, {"id": "w1", "kind": "watch", "protocol": "watch", "account": "gw"},
         "手表没有自己的 MQTT 账号：由手表网关代为接入",
         "a watch has no MQTT account of its own: the watch gateway speaks for it"),
        (ServicePointIn, {**POINT, "hours": "mon-fri 8-20"},
         "应为 HH:MM-HH:MM，收到 '8-20'", "expected HH:MM-HH:MM, got '8-20'"),
    ],
)  # fmt: skip
def test_a_rule_of_our_own_is_refused_in_the_readers_language(
    model: type[BaseModel], body: dict[str, object], zh: str, en: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(body)
    (problem,) = problems(refused.value.errors())
    assert (problem.words(Lang.ZH), problem.words(Lang.EN)) == (zh, en)
