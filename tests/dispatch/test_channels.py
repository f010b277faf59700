"""Each channel against a stand-in of its receiver that checks the request as the
provider documents it (testbed/receivers.py): Alibaba Cloud and Tencent Cloud SMS,
DingTalk's and WeCom's robots. A request signed with the wrong secret is refused and
not tried again; a 500 from any of them is tried again (the outbox's retries,
backoff and timeouts are tests/dispatch/test_outbox.py's)."""

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest

from dispatch.notify.bots import Bot, ChatBots
from dispatch.notify.outbox import Message, Result
from dispatch.notify.sms import TEMPLATES, AliyunSms, SmsAccount, TencentSms
from testbed.receivers import (
    AliyunSmsStandIn,
    DingTalkStandIn,
    StandIn,
    TencentSmsStandIn,
    WeComStandIn,
)

T = TypeVar("T")
PARAMS = {
    "who": "王秀英（82岁）", "what": "按下了紧急呼叫", "address": "江岸区胜利街12号3楼",
    "access": "钥匙箱4711，邻居刘阿姨有钥匙", "code": "4821", "link": "http://x/r/abc",
}  # fmt: skip


def message(channel: str, recipient: str, template: str = "dispatch") -> Message:
    body = {"template": template, "params": PARAMS}
    return Message(7, channel, recipient, body, 1, datetime.now(UTC))


def send(send_one: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    async def go() -> T:
        async with httpx.AsyncClient(timeout=5) as client:
            return await send_one(client)

    return asyncio.run(go())


@pytest.fixture
def stand_ins() -> Iterator[list[StandIn]]:
    started: list[StandIn] = []
    yield started
    for s in started:
        s.stop()


def aliyun(stand_in: AliyunSmsStandIn, secret: str) -> SmsAccount:
    return SmsAccount("aliyun", stand_in.key_id, secret, "安心", {"dispatch": "SMS_1"},
                      stand_in.url)  # fmt: skip


def test_alibaba_cloud_sms_is_signed_as_documented_and_carries_our_id(
    stand_ins: list[StandIn],
) -> None:
    server = AliyunSmsStandIn(templates={"SMS_1": set(TEMPLATES["dispatch"])}).start()
    stand_ins.append(server)
    ok: Result = send(lambda c: AliyunSms(c, aliyun(server, server.key_secret)).send(
        message("sms", "13800001111")))  # fmt: skip
    assert ok.ok, ok.error
    assert ok.receipt is not None
    assert ok.receipt["BizId"]
    (sent,) = server.sent()
    assert sent["OutId"] == "7"
    assert sent["PhoneNumbers"] == "13800001111"
    forged = send(lambda c: AliyunSms(c, aliyun(server, "wrong")).send(message("sms", "1")))
    assert (forged.ok, forged.retry) == (False, False)
    assert "SignatureDoesNotMatch" in str(forged.error)
    server.fail_next = 1
    down = send(lambda c: AliyunSms(c, aliyun(server, server.key_secret)).send(
        message("sms", "13800001111")))  # fmt: skip
    assert (down.ok, down.retry, down.status_code) == (False, True, 500)


def test_tencent_cloud_sms_is_signed_with_tc3_and_carries_our_id(
    stand_ins: list[StandIn],
) -> None:
    server = TencentSmsStandIn(templates={"1001": len(TEMPLATES["dispatch"])}).start()
    stand_ins.append(server)

    def account(secret: str) -> SmsAccount:
        return SmsAccount("tencent", server.key_id, secret, "安心", {"dispatch": "1001"},
                          server.url, app_id=server.app_id)  # fmt: skip

    to = message("sms", "13800001111")
    ok = send(lambda c: TencentSms(c, account(server.key_secret)).send(to))
    assert ok.ok, ok.error
    (request,) = server.verified()
    body: dict[str, Any] = request.json()
    assert body["PhoneNumberSet"] == ["+8613800001111"]
    assert body["SessionContext"] == "7"
    assert body["TemplateParamSet"][0] == "王秀英（82岁）"
    forged = send(lambda c: TencentSms(c, account("wrong")).send(to))
    assert (forged.ok, forged.retry) == (False, False)
    assert "AuthFailure.SignatureFailure" in str(forged.error)
    server.fail_next = 1
    down = send(lambda c: TencentSms(c, account(server.key_secret)).send(to))
    assert (down.ok, down.retry, down.status_code) == (False, True, 500)


def test_a_parameter_too_long_for_the_provider_is_cut(stand_ins: list[StandIn]) -> None:
    server = AliyunSmsStandIn(templates={"SMS_1": set(TEMPLATES["dispatch"])}).start()
    stand_ins.append(server)
    long = message("sms", "13800001111")
    long.body["params"] = {**PARAMS, "access": "从小区东门进，" * 10}
    ok = send(lambda c: AliyunSms(c, aliyun(server, server.key_secret)).send(long))
    assert ok.ok, ok.error
    access = json.loads(server.sent()[0]["TemplateParam"])["access"]
    assert len(access) == 35
    assert access.endswith("…")


def test_dingtalk_robot_is_signed_and_wecom_robot_keyed(stand_ins: list[StandIn]) -> None:
    ding = DingTalkStandIn().start()
    wecom = WeComStandIn().start()
    stand_ins += [ding, wecom]

    async def through(kind: str, bots: dict[str, tuple[str, str | None]]) -> list[Result]:
        async with httpx.AsyncClient(timeout=5) as client:
            channel = ChatBots(client, kind)
            # what refresh() reads from chat_bots
            channel._bots = {n: Bot(kind, u, s, "zh-CN") for n, (u, s) in bots.items()}
            return [await channel.send(message(kind, name)) for name in bots]

    good, forged = asyncio.run(through("dingtalk", {
        "duty": (f"{ding.url}robot/send?access_token={ding.access_token}", ding.secret),
        "forged": (f"{ding.url}robot/send?access_token={ding.access_token}", "SEC-wrong"),
    }))  # fmt: skip
    assert good.ok, good.error
    assert (forged.ok, forged.retry) == (False, False)
    assert "310000" in str(forged.error)
    (request,) = ding.verified()
    assert request.json()["text"]["content"].startswith("【安心】派单：王秀英（82岁）")
    ding.fail_next = 1
    (down,) = asyncio.run(through("dingtalk", {
        "duty": (f"{ding.url}robot/send?access_token={ding.access_token}", ding.secret),
    }))  # fmt: skip
    assert (down.ok, down.retry, down.status_code) == (False, True, 500)
    good, wrong = asyncio.run(through("wecom", {
        "duty": (f"{wecom.url}cgi-bin/webhook/send?key={wecom.key}", None),
        "wrong": (f"{wecom.url}cgi-bin/webhook/send?key=nope", None),
    }))  # fmt: skip
    assert good.ok, good.error
    assert (wrong.ok, wrong.retry) == (False, False)
    wecom.fail_next = 1
    (down,) = asyncio.run(through("wecom", {
        "duty": (f"{wecom.url}cgi-bin/webhook/send?key={wecom.key}", None),
    }))  # fmt: skip
    assert (down.ok, down.retry, down.status_code) == (False, True, 500)


class _GatewayPage(AliyunSmsStandIn):
    """A provider's gateway answering with something that is not its JSON."""

    def reply(self, request: Any) -> tuple[int, Any]:
        return 200, "<html>502 Bad Gateway</html>"


def test_an_answer_that_is_not_the_providers_json_is_tried_again_not_a_crash(
    stand_ins: list[StandIn],
) -> None:
    server = _GatewayPage(templates={"SMS_1": set(TEMPLATES["dispatch"])}).start()
    stand_ins.append(server)
    odd = send(lambda c: AliyunSms(c, aliyun(server, server.key_secret)).send(
        message("sms", "13800001111")))  # fmt: skip
    assert (odd.ok, odd.retry) == (False, True)
    assert "not a JSON object" in str(odd.error)
