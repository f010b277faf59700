"""Where answers arrive: the SMS providers' reply callbacks (each answered in the format
its provider expects) and the responder's signed link."""

import hmac
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path
from fastapi.responses import JSONResponse
from pydantic import Field, Strict

from alerts.lifecycle import MAX_NOTE_CHARS
from alerts.models import Resolution
from alerts.response import answers
from alerts.response.answers import LINK_ACTIONS
from alerts.response.dispatching import Dispatcher
from dispatch.notify import receipts
from kernel.errors import NotFound
from kernel.types import RequestBody
from kernel.web import Conn, wired

router = APIRouter(tags=["answers from phones"])

Token = Annotated[str, Path(max_length=200)]
# what anxin/app.py wires in
Routing = Annotated[Dispatcher, Depends(wired("dispatcher"))]
CallbackToken = Annotated[str, Depends(wired("sms_callback_token"))]


def _from_provider(token: Token, expected: CallbackToken) -> None:
    """The callback address carries a token only the provider was given (the
    providers do not sign their callbacks); a wrong one learns nothing."""
    if not expected or not hmac.compare_digest(expected, token):
        msg = "not found"
        raise NotFound(msg)


FromProvider = Depends(_from_provider)


@router.post("/api/v1/sms/replies/aliyun/{token}", dependencies=[FromProvider])
async def aliyun_replies(
    conn: Conn, dispatcher: Routing, replies: Annotated[list[dict[str, Any]], Body()]
) -> dict[str, Any]:
    """Alibaba Cloud's SmsUp HTTP batch push: a JSON array of replies
    (`phone_number`, `content`, ...); answered `{"code": 0, "msg": ...}`."""
    for reply in replies:
        await answers.sms_reply(
            conn=conn,
            phone=str(reply.get("phone_number", "")),
            text=str(reply.get("content", "")),
            dispatcher=dispatcher,
        )
    return {"code": 0, "msg": "接收成功"}


@router.post("/api/v1/sms/replies/tencent/{token}", dependencies=[FromProvider])
async def tencent_reply(
    conn: Conn, dispatcher: Routing, reply: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Tencent Cloud's reply callback: one reply (`mobile`, `nationcode`, `text`, ...);
    answered `{"result": 0, "errmsg": "OK"}`."""
    await answers.sms_reply(
        conn=conn,
        phone=str(reply.get("mobile", "")),
        text=str(reply.get("text", "")),
        dispatcher=dispatcher,
    )
    return {"result": 0, "errmsg": "OK"}


@router.post("/api/v1/sms/receipts/aliyun/{token}", dependencies=[FromProvider])
async def aliyun_receipts(
    conn: Conn, reports: Annotated[list[dict[str, Any]], Body()]
) -> dict[str, Any]:
    """Alibaba Cloud's SmsReport HTTP batch push: a JSON array of delivery reports
    (`out_id`, `success`, `err_code`, ...); answered `{"code": 0, "msg": ...}`. A text
    not delivered to a point's staff member goes to the next one (the offers worker)."""
    await receipts.record(
        conn=conn, provider="aliyun", reports=[receipts.aliyun_report(r) for r in reports]
    )
    return {"code": 0, "msg": "接收成功"}


@router.post("/api/v1/sms/receipts/tencent/{token}", dependencies=[FromProvider])
async def tencent_receipts(
    conn: Conn, reports: Annotated[list[dict[str, Any]], Body()]
) -> dict[str, Any]:
    """Tencent Cloud's status callback: a JSON array of reports (`sid`,
    `report_status`, `errmsg`, ...); answered `{"result": 0, "errmsg": "OK"}`."""
    await receipts.record(
        conn=conn, provider="tencent", reports=[receipts.tencent_report(r) for r in reports]
    )
    return {"result": 0, "errmsg": "OK"}


class LinkAnswer(RequestBody):
    # resolve: how it ended, and what was done (both required, as for an operator)
    outcome: Annotated[Resolution, Strict(False)] | None = None
    note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS)


@router.get("/api/v1/links/{token}")
async def responder_view(conn: Conn, token: Token) -> dict[str, Any]:
    """What the responder's page (`/r/<token>`, the link in a dispatch SMS) shows: who,
    what, where, how to get in, and the actions open now. No password: the link is
    the key, and it expires."""
    return await answers.link_view(conn=conn, token=token)


@router.post("/api/v1/links/{token}/{action}")
async def responder_action(
    dispatcher: Routing,
    conn: Conn,
    token: Token,
    action: Literal["accept", "decline", "arrive", "resolve"],
    body: LinkAnswer | None = None,
) -> JSONResponse:
    """accept or decline the request; once accepted, arrive and resolve (with
    `outcome` and `note`)."""
    assert action in LINK_ACTIONS
    body = body or LinkAnswer()
    change = await answers.by_link(
        conn=conn,
        token=token,
        action=action,
        dispatcher=dispatcher,
        outcome=body.outcome,
        note=body.note,
    )
    return JSONResponse(
        {"incident_id": change.incident_id, "from_status": str(change.from_status),
         "to_status": str(change.to_status), "event_id": change.audit_id}
    )  # fmt: skip
