"""Group chat robots: DingTalk's custom robot (signed: `timestamp` and `sign` in the
query, the HMAC-SHA256 of `{timestamp}\\n{secret}` keyed with the secret, Base64,
URL-encoded) and WeCom's group robot (its key in the URL). Both take
`{"msgtype": "text", "text": {"content": ...}}` and answer `{"errcode": 0}`.

Why not apprise (which has both): its plugins build the vendors' host names in, so a
stand-in cannot receive them in tests, and a notification comes back as True or False,
with no receipt and no telling a rate limit (try later) from a refusal (give up).
"""

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import quote_plus

import httpx
from psycopg import AsyncConnection

from dispatch.notify.http import post
from dispatch.notify.outbox import Message, Result
from dispatch.notify.texts import render

# errcodes that mean "not now": DingTalk 130101 (sending too fast), WeCom 45009
# (over the frequency limit); -1 is either's "system busy"
LATER = {130101, 45009, -1}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return quote_plus(base64.b64encode(mac.digest()).decode())


@dataclass(frozen=True)
class Bot:
    kind: str
    url: str
    secret: str | None
    lang: str


class ChatBots:
    """One channel per kind (`dingtalk`, `wecom`) over the bots in `chat_bots`."""

    def __init__(self, client: httpx.AsyncClient, kind: str) -> None:
        self.name = kind
        self._client = client
        self._bots: dict[str, Bot] = {}

    async def refresh(self, *, conn: AsyncConnection) -> None:
        cur = await conn.execute(
            "SELECT name, kind, url, secret, lang FROM chat_bots WHERE kind = %s", (self.name,)
        )
        self._bots = {r[0]: Bot(r[1], r[2], r[3], r[4]) for r in await cur.fetchall()}

    def knows(self, recipient: str) -> bool:
        return recipient in self._bots

    async def send(self, message: Message) -> Result:
        bot = self._bots.get(message.recipient)
        if bot is None:
            return Result(ok=False, error=f"no {self.name} robot named {message.recipient!r}")
        text = "【安心】" + render(
            message.body["template"], message.body.get("params", {}), bot.lang
        )
        url = bot.url
        if bot.kind == "dingtalk" and bot.secret:
            now = int(time.time() * 1000)
            url += (
                f"{'&' if '?' in url else '?'}timestamp={now}&sign={dingtalk_sign(bot.secret, now)}"
            )
        answer = await post(self._client, url, json={"msgtype": "text", "text": {"content": text}})
        if isinstance(answer, Result):
            return answer
        body = answer.json()
        if isinstance(body, Result):
            return body
        code = body.get("errcode")
        if answer.response.is_success and code == 0:
            return answer.sent(body)
        return answer.failed(f"errcode {code}: {body.get('errmsg')}", retry=code in LATER,
                             receipt=body)  # fmt: skip
