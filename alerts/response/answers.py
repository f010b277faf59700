"""Answers from phones: a caregiver's reply to a dispatch SMS (through the provider's
reply callback) or a tap on the signed link in it.

Many texts share one sender number, so a reply must carry the offer's short code:
`4821 1` (or `48211`, `4821接`, `4821 Y`) accepts, `4821 0` (`拒`, `N`) declines, and
only from a phone of the asked point's staff. A reply that matches nothing changes
nothing and gets a polite SMS back.
"""

import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from alerts import lifecycle, notices
from alerts.errors import IllegalTransition
from alerts.lifecycle import Action, Request
from alerts.models import Resolution
from alerts.response.dispatching import Dispatcher, places
from dispatch import offers
from dispatch.links import NO_LINK, BadLink, link_key
from dispatch.notify import plan
from kernel.errors import Conflict

log = logging.getLogger("anxin.answers")

ACCEPT = {"1", "接", "接单", "y", "yes", "是", "好", "ok"}
DECLINE = {"0", "拒", "拒单", "拒绝", "n", "no", "不", "否"}
_REPLY = re.compile(r"^\s*(\d{4})\s*(.*?)\s*$", re.S)


def parse(text: str) -> tuple[str, Action] | None:
    """(code, accept or decline) from a reply, or None. Full-width digits and letters
    (as Chinese phone keyboards type them) count as their plain forms."""
    match = _REPLY.match(unicodedata.normalize("NFKC", text))
    if match is None:
        return None
    code, word = match.group(1), match.group(2).strip(" ，,。.!").lower()
    if word in ACCEPT:
        return code, Action.ACCEPT
    if word in DECLINE:
        return code, Action.DECLINE
    return None


def _digits(phone: str) -> str:
    """The national number: what a provider reports and what was stored compare equal."""
    digits = re.sub(r"\D", "", phone)
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


@dataclass(frozen=True)
class Answered:
    matched: bool
    action: str | None = None
    incident_id: int | None = None


async def sms_reply(
    *, conn: AsyncConnection, phone: str, text: str, dispatcher: Dispatcher
) -> Answered:
    parsed = parse(text)
    found = await _staff_offer(conn, phone, parsed[0]) if parsed else None
    if parsed is None or found is None:
        await plan.tell_phone(conn=conn, phone=_digits(phone), template="reply_unmatched")
        log.info("an SMS reply from %s matched no dispatch: %r", _digits(phone), text[:40])
        return Answered(matched=False)
    offer, name, alert_id = found
    try:
        await lifecycle.act(
            conn=conn,
            alert_id=alert_id,
            request=Request(action=parsed[1], actor=f"{name}（短信回复）"),
            dispatcher=dispatcher,
        )
    except IllegalTransition:
        # answered meanwhile (the link, another person): nothing to change
        await plan.tell_phone(conn=conn, phone=_digits(phone), template="reply_unmatched")
        return Answered(matched=False)
    return Answered(matched=True, action=str(parsed[1]), incident_id=offer.incident_id)


async def _staff_offer(
    conn: AsyncConnection, phone: str, code: str
) -> tuple[offers.Offer, str, int] | None:
    """The waiting offer with this code, if `phone` is one of its point's staff: the
    offer, the person's name and an alert of the incident."""
    found = await offers.waiting_for_staff(conn=conn, code=code, phone_digits=_digits(phone))
    if found is None:
        return None
    offer, name = found
    return offer, name, await _an_alert_of(conn, offer.incident_id)


async def _an_alert_of(conn: AsyncConnection, incident_id: int) -> int:
    cur = await conn.execute("SELECT min(id) FROM alerts WHERE incident_id = %s", (incident_id,))
    row = await cur.fetchone()
    assert row is not None, "an aggregate returns a row"
    return int(row[0])  # every incident has an alert


# -- the signed link ------------------------------------------------------------------------

SAID = {"accepted": "已接单", "declined": "已拒单", "expired": "已超时", "withdrawn": "已撤回"}
LINK_ACTIONS = {
    "accept": Action.ACCEPT,
    "decline": Action.DECLINE,
    "arrive": Action.ARRIVE,
    "resolve": Action.RESOLVE,
}


async def _linked(conn: AsyncConnection, token: str) -> tuple[int, str, int, str]:
    """(offer id, point, an alert of the incident, the offer's status) of a link."""
    key = await link_key(conn=conn)
    offer_id = key.offer_of(token)
    found = await offers.standing(conn=conn, offer_id=offer_id)
    if found is None:
        raise BadLink(NO_LINK)
    point_id, incident_id, status = found
    return offer_id, point_id, await _an_alert_of(conn, incident_id), status


async def by_link(
    *,
    conn: AsyncConnection,
    token: str,
    action: str,
    dispatcher: Dispatcher,
    outcome: Resolution | None = None,
    note: str | None = None,
) -> lifecycle.Change:
    """Accept or decline the offer a link names; once accepted, report arrival and
    resolve it (with an outcome and a note, as an operator would)."""
    _offer_id, point_id, alert_id, status = await _linked(conn, token)
    wanted = LINK_ACTIONS[action]
    answering = wanted in (Action.ACCEPT, Action.DECLINE)
    if answering and status != "offered":
        said = SAID.get(status, status)
        msg = f"this request was {status} already"
        raise Conflict(msg, code="offer_answered", zh=f"此派单{said}，无需再操作")
    if not answering and status != "accepted":
        msg = "accept the request first"
        raise Conflict(msg, code="offer_not_accepted", zh="请先接单，再报告到场或结案")
    return await lifecycle.act(
        conn=conn,
        alert_id=alert_id,
        request=Request(action=wanted, actor=f"{point_id}（链接）", outcome=outcome, note=note),
        dispatcher=dispatcher,
    )


def _link_actions(offer_status: str, incident_status: str) -> list[str]:
    if offer_status == "offered":
        return ["accept", "decline"]
    if offer_status != "accepted":
        return []
    return {"dispatched": ["arrive", "resolve"], "on_scene": ["resolve"]}.get(incident_status, [])


async def link_view(*, conn: AsyncConnection, token: str) -> dict[str, Any]:
    """What the responder's page shows: who, what, where, how to get in, and what
    can be done from here."""
    offer_id, point_id, alert_id, status = await _linked(conn, token)
    cur = await conn.execute(
        "SELECT i.id, i.status, i.severity, r.phone FROM incidents i"
        " JOIN alerts a ON a.incident_id = i.id"
        " LEFT JOIN resident_directory r ON r.id = i.resident_id WHERE a.id = %s",
        (alert_id,),
    )
    row = await cur.fetchone()
    assert row is not None
    incident_id, incident_status, severity, phone = row
    (place,) = await places(conn=conn, incident_ids=[incident_id])
    return {
        "offer_id": offer_id, "service_point_id": point_id, "offer_status": status,
        "incident_id": incident_id, "incident_status": incident_status,
        "severity": severity, "phone": phone, "lat": place.lat, "lon": place.lon,
        "actions": _link_actions(status, incident_status),
        **await notices.summary(conn=conn, incident_id=incident_id),
    }  # fmt: skip
