"""Signed links for responders: a link in a dispatch SMS opens that one incident's
page and answers it, with no password. The token names the offer and when it expires,
and is signed (HMAC-SHA256) with a key the service makes once and keeps in the
database, so every instance accepts the links of the others."""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from psycopg import AsyncConnection

from kernel.errors import NotFound

VALID_S = 24 * 3600
# a caregiver reads these on a phone: Chinese first
NO_LINK = "链接无效 (no such link)"


class BadLink(NotFound):
    """Forged, damaged or expired: nothing about the incident is given away."""

    code = "bad_link"
    zh_default = "链接无效或已过期，请联系接警中心。"


@dataclass(frozen=True)
class LinkKey:
    key: bytes

    def token(self, offer_id: int, *, now: float | None = None) -> str:
        expires = int((now or time.time()) + VALID_S)
        payload = f"{offer_id}.{expires}"
        return f"{payload}.{self._mac(payload)}"

    def offer_of(self, token: str, *, now: float | None = None) -> int:
        """The offer a valid token names; BadLink otherwise."""
        parts = token.split(".")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            raise BadLink(NO_LINK)
        payload = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._mac(payload), parts[2]):
            raise BadLink(NO_LINK)
        if int(parts[1]) < (now or time.time()):
            raise BadLink("链接已过期，请联系值班中心重新发送 (this link has expired)")
        return int(parts[0])

    def _mac(self, payload: str) -> str:
        return hmac.new(self.key, payload.encode(), hashlib.sha256).hexdigest()[:32]


async def link_key(*, conn: AsyncConnection) -> LinkKey:
    """The shared key, made by whichever instance asks first."""
    await conn.execute(
        "INSERT INTO app_secrets (name, value) VALUES ('responder_links', %s)"
        " ON CONFLICT (name) DO NOTHING",
        (secrets.token_hex(32),),
    )
    cur = await conn.execute("SELECT value FROM app_secrets WHERE name = 'responder_links'")
    row = await cur.fetchone()
    assert row is not None
    return LinkKey(bytes.fromhex(row[0]))
