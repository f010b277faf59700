"""Signed webhooks for integrators.

Each POST carries the JSON body and three headers:
- `Anxin-Message-Id`: the outbox id, the idempotency key (a repeat after a crash has
  the same one; drop it);
- `Anxin-Timestamp`: Unix seconds when it was signed;
- `Anxin-Signature`: `v1=` and the hex HMAC-SHA256, keyed with the webhook's secret,
  of `{timestamp}.{body}` (the body's exact bytes).
A receiver recomputes the signature (in constant time) and rejects a timestamp more
than 5 minutes from its clock, so a forged or replayed request is refused.
"""

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

import httpx
from psycopg import AsyncConnection

from dispatch.notify.http import post
from dispatch.notify.outbox import Message, Result


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


@dataclass(frozen=True)
class Endpoint:
    url: str
    secret: str


class WebhookChannel:
    """Delivers `webhook` messages to the endpoints in the `webhooks` table (read
    again when one is not known yet, so an endpoint added at run time is used)."""

    name = "webhook"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._endpoints: dict[str, Endpoint] = {}

    async def refresh(self, *, conn: AsyncConnection) -> None:
        cur = await conn.execute("SELECT name, url, secret FROM webhooks")
        self._endpoints = {r[0]: Endpoint(r[1], r[2]) for r in await cur.fetchall()}

    def knows(self, recipient: str) -> bool:
        return recipient in self._endpoints

    async def send(self, message: Message) -> Result:
        endpoint = self._endpoints.get(message.recipient)
        if endpoint is None:
            return Result(ok=False, error=f"no webhook named {message.recipient!r}")
        body = json.dumps(message.body, ensure_ascii=False, separators=(",", ":")).encode()
        now = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Anxin-Message-Id": str(message.id),
            "Anxin-Timestamp": str(now),
            "Anxin-Signature": signature(endpoint.secret, now, body),
        }
        answer = await post(self._client, endpoint.url, content=body, headers=headers)
        if isinstance(answer, Result):
            return answer
        if answer.response.is_success:
            return answer.sent(_receipt(answer.response))
        # refused (a 4xx): sending it again will not change the answer
        code = answer.response.status_code
        return answer.failed(f"HTTP {code}: {answer.response.text[:200]}")


def _receipt(answer: httpx.Response) -> dict[str, object] | None:
    if not answer.content:
        return None
    try:
        parsed = answer.json()
    except ValueError:
        return {"text": answer.text[:500]}
    return parsed if isinstance(parsed, dict) else {"body": parsed}
