"""People who use the API, their roles and what each may see.

A token is `anx_<token_id>_<secret>`, shown once when the user is added; the database
keeps only an argon2 hash of it (pwdlib), looked up by its token id. Verifying argon2
takes ~0.1 s of CPU on purpose, so a verified token is remembered (by its SHA-256, in
memory only) for a few minutes; the user's row is still read on every request, so a
disabled user or a changed role takes effect at once.
"""

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum

import psycopg
from psycopg import AsyncConnection
from pwdlib import PasswordHash
from pydantic import BaseModel, Field, model_validator

from kernel.errors import Conflict, NotFound, Unauthorized
from kernel.types import ResidentId
from kernel.validation import Refused

_HASH = PasswordHash.recommended()
_PREFIX = "anx"
_REMEMBER_S = 300.0


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    # sees only incidents assigned to its own service point
    SERVICE_POINT = "service_point"
    # sees only the residents who list their phone as an emergency contact
    CAREGIVER = "caregiver"


class Language(StrEnum):
    ZH_CN = "zh-CN"
    EN = "en"


class UserIn(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    role: Role
    districts: list[str] = Field(default_factory=list)
    service_point_id: ResidentId | None = None
    phone: str | None = Field(default=None, max_length=32)
    language: Language = Language.ZH_CN

    @model_validator(mode="after")
    def _scope_fits_role(self) -> "UserIn":
        if self.role is Role.SERVICE_POINT and not self.service_point_id:
            msg = "a service_point user needs --service-point"
            raise Refused(msg, zh="服务点账号须指定服务点（--service-point）")
        if self.role is Role.CAREGIVER and not self.phone:
            msg = "a caregiver needs --phone (the number residents list as a contact)"
            raise Refused(msg, zh="护理人员账号须填写手机号（--phone，即老人登记的联系人号码）")
        if self.districts and self.role not in (Role.OPERATOR, Role.SUPERVISOR):
            msg = "only operators and supervisors are limited to districts"
            raise Refused(msg, zh="只有接警员和主管可以限定辖区")
        return self


@dataclass(frozen=True)
class Principal:
    """Who is calling, and the scope of what they may see."""

    name: str
    role: Role
    districts: tuple[str, ...] = ()
    service_point_id: str | None = None
    phone: str | None = None
    language: Language = Language.ZH_CN


class UserExists(Conflict):
    code = "user_exists"
    zh_default = "用户名已存在"


class UnknownUser(NotFound):
    code = "unknown_user"
    zh_default = "没有这个用户"


async def _new_token() -> tuple[str, str, str]:
    """(token, its id, its argon2 hash): the token exists in clear only here."""
    token_id = secrets.token_hex(6)
    token = f"{_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    return token, token_id, await asyncio.to_thread(_HASH.hash, token)


async def add_user(*, conn: AsyncConnection, user: UserIn) -> str:
    """Add a user; returns their token (the only time it exists in clear)."""
    token, token_id, hashed = await _new_token()
    try:
        await conn.execute(
            """
            INSERT INTO users (name, role, districts, service_point_id, phone, language,
                               token_id, token_hash)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                user.name,
                str(user.role),
                user.districts,
                user.service_point_id,
                user.phone,
                str(user.language),
                token_id,
                hashed,
            ),
        )
    except psycopg.errors.UniqueViolation as exc:
        msg = f"user {user.name!r} exists already"
        raise UserExists(msg) from exc
    return token


async def rotate_token(*, conn: AsyncConnection, name: str) -> str:
    """A new token for the user; the old one stops working at once (it is looked up by
    its id on every request). Returns the new token, shown once."""
    token, token_id, hashed = await _new_token()
    cur = await conn.execute(
        "UPDATE users SET token_id = %s, token_hash = %s WHERE name = %s",
        (token_id, hashed, name),
    )
    if not cur.rowcount:
        msg = f"no user {name!r}"
        raise UnknownUser(msg)
    return token


async def set_disabled(*, conn: AsyncConnection, name: str, disabled: bool) -> None:
    """Disable a user (their token and sessions are refused from the next request) or
    enable them again."""
    cur = await conn.execute(
        "UPDATE users SET disabled_at = CASE WHEN %s THEN coalesce(disabled_at, now()) END"
        " WHERE name = %s",
        (disabled, name),
    )
    if not cur.rowcount:
        msg = f"no user {name!r}"
        raise UnknownUser(msg)


async def list_users(*, conn: AsyncConnection) -> list[dict[str, object]]:
    cur = await conn.execute(
        "SELECT name, role, districts, service_point_id, disabled_at IS NOT NULL"
        " FROM users ORDER BY name"
    )
    return [
        {"name": n, "role": r, "districts": d, "service_point_id": p, "disabled": off}
        for n, r, d, p, off in await cur.fetchall()
    ]


async def supervisor_phones(*, conn: AsyncConnection, district: str | None) -> list[str]:
    """The phones of the supervisors who watch `district` (one limited to no district
    watches them all)."""
    cur = await conn.execute(
        "SELECT phone FROM users WHERE role = 'supervisor' AND phone IS NOT NULL"
        " AND (districts = '{}' OR %s = ANY(districts))",
        (district,),
    )
    return [str(row[0]) for row in await cur.fetchall()]


async def remove_user(*, conn: AsyncConnection, name: str) -> bool:
    """Remove a user, their token with them; False if there was none."""
    cur = await conn.execute("DELETE FROM users WHERE name = %s", (name,))
    return cur.rowcount > 0


@dataclass
class TokenCheck:
    """Verifies bearer tokens, remembering the ones verified recently."""

    remember_s: float = _REMEMBER_S
    _verified: dict[bytes, tuple[str, float]] = field(default_factory=dict)

    async def principal(self, *, conn: AsyncConnection, token: str) -> Principal:
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != _PREFIX:
            msg = "malformed token: expected 'anx_<id>_<secret>'"
            raise Unauthorized(msg)
        token_id = parts[1]
        cur = await conn.execute(
            "SELECT name, role, districts, service_point_id, phone, language, token_hash"
            " FROM users WHERE token_id = %s AND disabled_at IS NULL",
            (token_id,),
        )
        row = await cur.fetchone()
        if row is None or not await self._verify(token, token_id, row[6]):
            msg = "unknown or revoked token"
            raise Unauthorized(msg)
        name, role, districts, point, phone, language, _ = row
        return Principal(
            name=name,
            role=Role(role),
            districts=tuple(districts),
            service_point_id=point,
            phone=phone,
            language=Language(language),
        )

    async def _verify(self, token: str, token_id: str, hashed: str) -> bool:
        digest = hashlib.sha256(token.encode()).digest()
        now = time.monotonic()
        seen = self._verified.get(digest)
        if seen is not None and seen[0] == token_id and now - seen[1] < self.remember_s:
            return True
        if not await asyncio.to_thread(_HASH.verify, token, hashed):
            return False
        if len(self._verified) > 10_000:  # bounded: forget everything, re-verify
            self._verified.clear()
        self._verified[digest] = (token_id, now)
        return True
