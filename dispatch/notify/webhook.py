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

from dispatch.notify.outbox import Message, Result

TOLERANCE_S = 300


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

    async def refresh(self, conn: AsyncConnection) -> None:
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
        started = time.perf_counter()
        try:
            answer = await self._client.post(endpoint.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            took = (time.perf_counter() - started) * 1000
            return Result(ok=False, error=_describe(exc), retry=True, took_ms=took)
        took = (time.perf_counter() - started) * 1000
        code = answer.status_code
        if 200 <= code < 300:
            return Result(ok=True, status_code=code, receipt=_receipt(answer), took_ms=took)
        # a receiver that is busy or broken may take it later; one that refuses it will not
        retry = code in (408, 425, 429) or code >= 500
        error = f"HTTP {code}: {answer.text[:200]}"
        return Result(ok=False, status_code=code, error=error, retry=retry, took_ms=took)


def _describe(exc: httpx.HTTPError) -> str:
    kind = type(exc).__name__
    text = str(exc).strip()
    return f"{kind}: {text}" if text else kind


def _receipt(answer: httpx.Response) -> dict[str, object] | None:
    if not answer.content:
        return None
    try:
        parsed = answer.json()
    except ValueError:
        return {"text": answer.text[:500]}
    return parsed if isinstance(parsed, dict) else {"body": parsed}
