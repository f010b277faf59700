"""Who hears what, and how they answer, end to end on a real `anxin serve` with a
stand-in SMS provider that verifies every request (testbed/receivers.py): the asked
point's on-call person gets the dispatch text with a code and a link; a reply with the
code accepts or declines (Alibaba's and Tencent's reply callbacks, answered in each
one's format); a reply that matches nothing gets a polite text and changes nothing;
the link accepts and reports arrival; the family hears when it opens and when it is
over; the supervisor hears of an escalation."""

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx
import psycopg
import pytest

from dispatch.notify.sms import TEMPLATES
from testbed.receivers import AliyunSmsStandIn, TencentSmsStandIn, WebhookReceiver
from tests.alerts.test_dispatching import incident, post, timeline
from tests.alerts.test_lifecycle import finding, open_one
from tests.alerts.test_suggestions import ALWAYS, ready
from tests.api_world import World
from tests.conftest import ServeProcess, wait_until
from tests.dispatch.test_outbox import SECRET, hook

CODES = {name: f"SMS_{k}" for k, name in enumerate(TEMPLATES)}
CALLBACK = "callback-token-0123"
NURSE = "13800001111"  # 李护士, on call at sp1 (tests.alerts.test_suggestions.ready)
DAUGHTER = "13800000001"  # 王敏, r1's first contact (tests.api_world.seed)
BACKUP = "13800004444"  # 陈阿姨 at sp1, on shift, not on call: told when the nurse is not


def backup(db: psycopg.Connection) -> None:
    db.execute(
        "INSERT INTO service_point_staff (id, point_id, name, phone, shifts, on_call)"
        " VALUES ('n4', 'sp1', '陈阿姨', %s, %s, false)",
        (BACKUP, ALWAYS),
    )


def deliveries(db: psycopg.Connection) -> list[tuple[str, str | None]]:
    return db.execute(
        "SELECT recipient, delivery FROM outbox WHERE body->>'template' = 'dispatch' ORDER BY id"
    ).fetchall()


@pytest.fixture
def aliyun(world: World, serve: ServeProcess) -> Iterator[AliyunSmsStandIn]:
    stand_in = AliyunSmsStandIn(
        templates={CODES[t]: set(params) for t, params in TEMPLATES.items()}
    ).start()
    serve.stop()
    serve.env.update(
        {
            "ANXIN_SMS_PROVIDER": "aliyun",
            "ANXIN_SMS_KEY_ID": stand_in.key_id,
            "ANXIN_SMS_KEY_SECRET": stand_in.key_secret,
            "ANXIN_SMS_ENDPOINT": stand_in.url,
            "ANXIN_SMS_TEMPLATES": json.dumps(CODES),
            "ANXIN_SMS_CALLBACK_TOKEN": CALLBACK,
            "ANXIN_PUBLIC_URL": serve.base_url,
        }
    )
    serve.start()
    yield stand_in
    stand_in.stop()


def texts(stand_in: AliyunSmsStandIn, template: str, to: str) -> list[dict[str, Any]]:
    return [
        json.loads(sent["TemplateParam"])
        for sent in stand_in.sent()
        if sent["TemplateCode"] == CODES[template] and sent["PhoneNumbers"] == to
    ]


def dispatch_text(world: World, db: psycopg.Connection, stand_in: AliyunSmsStandIn) -> dict:  # type: ignore[type-arg]
    ready(db)
    post(world, "op", "r1", "ack")
    post(world, "op", "r1", "assign")
    wait_until(lambda: texts(stand_in, "dispatch", NURSE), timeout=10, what="the dispatch SMS")
    (text,) = texts(stand_in, "dispatch", NURSE)
    return text


def smsup(world: World, phone: str, content: str) -> httpx.Response:
    reply = [{"phone_number": phone, "send_time": "2026-11-24 09:00:00", "content": content,
              "sign_name": "安心", "dest_code": "1234", "sequence_id": 1}]  # fmt: skip
    return httpx.post(f"{world.base}/api/v1/sms/replies/aliyun/{CALLBACK}", json=reply, timeout=10)


def test_the_point_is_texted_with_a_code_and_a_reply_with_it_accepts(
    world: World, db: psycopg.Connection, aliyun: AliyunSmsStandIn
) -> None:
    text = dispatch_text(world, db, aliyun)
    assert text["who"] == "王秀英"
    assert len(text["code"]) == 4
    assert text["link"].startswith(f"{world.base}/r/")
    answer = smsup(world, NURSE, f"{text['code']} 1")
    assert answer.json() == {"code": 0, "msg": "接收成功"}
    assert incident(db, world, "r1")[:2] == ("dispatched", "sp1")
    (accepted,) = [e for e in timeline(world, "r1") if e["action"] == "accept"]
    assert accepted["actor"] == "李护士（短信回复）"


def test_a_reply_that_matches_nothing_gets_a_polite_text_and_changes_nothing(
    world: World, db: psycopg.Connection, aliyun: AliyunSmsStandIn
) -> None:
    text = dispatch_text(world, db, aliyun)
    wrong = "0000" if text["code"] != "0000" else "0001"
    for phone, content in ((NURSE, f"{wrong}1"), ("13900009999", f"{text['code']}1"),
                           (NURSE, "好的马上到")):  # fmt: skip
        assert smsup(world, phone, content).json()["code"] == 0
    assert incident(db, world, "r1")[:2] == ("acknowledged", "sp1")
    wait_until(
        lambda: (
            len(texts(aliyun, "reply_unmatched", NURSE)) == 2
            and len(texts(aliyun, "reply_unmatched", "13900009999")) == 1
        ),
        timeout=10,
        what="three polite answers",
    )


def test_a_reply_callback_with_a_wrong_token_is_not_found(world: World, aliyun: Any) -> None:
    answer = httpx.post(f"{world.base}/api/v1/sms/replies/aliyun/guess", json=[], timeout=5)
    assert answer.status_code == 404


def test_the_link_accepts_reports_arrival_resolves_and_a_forged_one_is_not_found(
    world: World, db: psycopg.Connection, aliyun: AliyunSmsStandIn
) -> None:
    link = dispatch_text(world, db, aliyun)["link"]
    api = link.replace("/r/", "/api/v1/links/")  # the page at /r/ reads and acts through it
    page = httpx.get(api, timeout=5).json()
    assert (page["who"], page["actions"]) == ("王秀英", ["accept", "decline"])
    assert httpx.post(f"{api}/arrive", timeout=5).status_code == 409  # not accepted yet
    assert httpx.post(f"{api}/accept", timeout=5).json()["to_status"] == "dispatched"
    assert httpx.post(f"{api}/accept", timeout=5).status_code == 409  # once
    assert httpx.get(api, timeout=5).json()["actions"] == ["arrive", "resolve"]
    assert httpx.post(f"{api}/arrive", timeout=5).json()["to_status"] == "on_scene"
    assert incident(db, world, "r1")[0] == "on_scene"
    no_outcome = httpx.post(f"{api}/resolve", json={"note": "扶起"}, timeout=5)
    assert no_outcome.status_code == 422
    done = httpx.post(f"{api}/resolve", json={"outcome": "assisted", "note": "扶起"}, timeout=5)
    assert done.json()["to_status"] == "resolved"
    assert httpx.get(api, timeout=5).json()["actions"] == []
    forged = api[:-1] + ("0" if api[-1] != "0" else "1")
    assert httpx.get(forged, timeout=5).status_code == 404


def test_the_family_hears_when_it_opens_and_when_it_is_over(
    world: World, db: psycopg.Connection, aliyun: AliyunSmsStandIn, database_url: str
) -> None:
    post(world, "op", "r1", "cancel", note="误按")
    world.alerts["r1"] = open_one(database_url, finding("w1")).id  # an SOS of r1's watch
    wait_until(lambda: texts(aliyun, "family_opened", DAUGHTER), timeout=10, what="opened")
    (opened,) = texts(aliyun, "family_opened", DAUGHTER)
    assert opened["who"] == "王秀英"
    post(world, "op", "r1", "ack")
    post(world, "op", "r1", "resolve", outcome="assisted", note="扶起，无外伤")
    wait_until(lambda: texts(aliyun, "family_resolved", DAUGHTER), timeout=10, what="over")
    assert texts(aliyun, "family_resolved", DAUGHTER)[0]["outcome"] == "已协助"


def test_an_sos_text_is_not_held_up_by_a_webhook_that_never_answers(
    world: World, serve: ServeProcess, aliyun: AliyunSmsStandIn, database_url: str
) -> None:
    silent = WebhookReceiver(secret=SECRET, hang_next=100, hang_s=8.0).start()
    try:
        hook(serve.env, silent, "silent")
        post(world, "op", "r1", "cancel", note="误按")
        wait_until(lambda: silent.requests, timeout=5, what="the silent one holding a message")
        pressed = time.time()
        world.alerts["r1"] = open_one(database_url, finding("w1")).id  # an SOS of r1's watch
        wait_until(lambda: texts(aliyun, "family_opened", DAUGHTER), timeout=5, what="the text")
        (text,) = [r for r in aliyun.verified() if dict(parse_qsl(r.body.decode()))
                   ["TemplateCode"] == CODES["family_opened"]]  # fmt: skip
        assert text.at - pressed < 0.5
    finally:
        silent.stop()


def test_the_supervisor_is_texted_when_an_incident_escalates(
    world: World, db: psycopg.Connection, aliyun: AliyunSmsStandIn
) -> None:
    db.execute("UPDATE users SET phone = '13700007777' WHERE name = 'sup'")
    db.execute("UPDATE incidents SET escalate_at = now() WHERE status = 'open'")
    wait_until(
        lambda: texts(aliyun, "escalated", "13700007777"), timeout=10, what="the escalation SMS"
    )
    levels = {t["level"] for t in texts(aliyun, "escalated", "13700007777")}
    assert levels == {"1"}


def test_a_dispatch_text_reported_undelivered_goes_to_the_points_next_staff_member(
    world: World, db: psycopg.Connection, aliyun: AliyunSmsStandIn
) -> None:
    aliyun.report_url = f"{world.base}/api/v1/sms/receipts/aliyun/{CALLBACK}"
    aliyun.undeliverable = {NURSE}
    backup(db)
    text = dispatch_text(world, db, aliyun)
    wait_until(lambda: texts(aliyun, "dispatch", BACKUP), timeout=10, what="the next one's text")
    assert texts(aliyun, "dispatch", BACKUP) == [text]  # the same code and link
    (missed,) = [e for e in timeline(world, "r1") if e["action"] == "sms_undelivered"]
    assert missed["action_text"] == "短信未送达"
    assert missed["note"] == "发给李护士的派单短信未送达（UNDELIV），已改发陈阿姨"
    wait_until(lambda: len(aliyun.reports) == 2, timeout=5, what="both reports")
    assert [r["answer"] for r in aliyun.reports] == [{"code": 0, "msg": "接收成功"}] * 2
    assert deliveries(db) == [(NURSE, "undelivered"), (BACKUP, "delivered")]
    # the backup's text got through: nobody else is told
    time.sleep(1.5)
    assert len([e for e in timeline(world, "r1") if e["action"] == "sms_undelivered"]) == 1


def test_a_dispatch_text_unconfirmed_after_the_wait_goes_to_the_next_staff_member(
    world: World, serve: ServeProcess, db: psycopg.Connection, aliyun: AliyunSmsStandIn
) -> None:
    # no receipts come at all (the provider's callback not set up)
    serve.stop()
    serve.env["ANXIN_SMS_DELIVERY_WAIT_S"] = "5"
    serve.start()
    backup(db)
    dispatch_text(world, db, aliyun)
    sent = time.time()
    wait_until(lambda: texts(aliyun, "dispatch", BACKUP), timeout=10, what="the next one's text")
    assert time.time() - sent >= 4.5  # not before the wait (sent a moment before this)
    (missed,) = [e for e in timeline(world, "r1") if e["action"] == "sms_undelivered"]
    assert missed["note"] == "发给李护士的派单短信5秒内未确认送达，已改发陈阿姨"


def test_a_receipt_callback_with_a_wrong_token_is_not_found(world: World, aliyun: Any) -> None:
    for provider in ("aliyun", "tencent"):
        answer = httpx.post(
            f"{world.base}/api/v1/sms/receipts/{provider}/guess", json=[], timeout=5
        )
        assert answer.status_code == 404


def test_a_decline_by_tencent_reply_asks_the_next_point(
    world: World, serve: ServeProcess, db: psycopg.Connection
) -> None:
    tencent = TencentSmsStandIn(
        templates={CODES[t]: len(params) for t, params in TEMPLATES.items()}
    ).start()
    try:
        serve.stop()
        serve.env.update(
            {
                "ANXIN_SMS_PROVIDER": "tencent",
                "ANXIN_SMS_KEY_ID": tencent.key_id,
                "ANXIN_SMS_KEY_SECRET": tencent.key_secret,
                "ANXIN_SMS_APP_ID": tencent.app_id,
                "ANXIN_SMS_ENDPOINT": tencent.url,
                "ANXIN_SMS_TEMPLATES": json.dumps(CODES),
                "ANXIN_SMS_CALLBACK_TOKEN": CALLBACK,
            }
        )
        serve.start()
        tencent.report_url = f"{world.base}/api/v1/sms/receipts/tencent/{CALLBACK}"
        ready(db)
        post(world, "op", "r1", "ack")
        post(world, "op", "r1", "assign")

        def dispatched() -> list[list[str]]:
            return [
                r.json()["TemplateParamSet"]
                for r in tencent.verified()
                if r.json()["TemplateId"] == CODES["dispatch"]
            ]

        wait_until(dispatched, timeout=10, what="the dispatch SMS")
        code = dispatched()[0][TEMPLATES["dispatch"].index("code")]
        reply = {"extend": "", "mobile": NURSE, "nationcode": "86", "sign": "安心",
                 "text": f"{code}拒", "time": 1764000000}  # fmt: skip
        answer = httpx.post(
            f"{world.base}/api/v1/sms/replies/tencent/{CALLBACK}", json=reply, timeout=10
        )
        assert answer.json() == {"result": 0, "errmsg": "OK"}
        assert incident(db, world, "r1")[:2] == ("acknowledged", "sp2")
        # the status callback found the nurse's text by its serial number
        wait_until(lambda: deliveries(db)[:1] == [(NURSE, "delivered")], timeout=5,
                   what="the receipt")  # fmt: skip
        assert tencent.reports[0]["answer"] == {"result": 0, "errmsg": "OK"}
    finally:
        tencent.stop()
