"""Who may say what on the broker: each device's MQTT account (password stored only as
a hash), and the Mosquitto dynamic-security configuration that lets a device publish
only under its own topics, read only its own command topic, and connect only with its
own client id, while the Anxin service's account reads everything.

Why dynamic security and not a password file and ACL file: measured on Mosquitto
2.0.11, the ACL file does not check subscriptions, so a device may join ingest's
shared subscription (`$share/<group>/anxin/v1/+/+`); the broker then hands it its
share of the stream, refuses it delivery, and the messages are gone (5 of 10 lost in
the experiment). Nor can an ACL file stop a device from connecting with ingest's
client id, which disconnects ingest. Dynamic security checks subscriptions (denied
by default) and binds a client to its client id (tests/devices/test_mqtt_access.py).

Passwords are random 144-bit tokens hashed as Mosquitto hashes them (PBKDF2-SHA512,
12-byte salt, 101 iterations as `mosquitto_passwd` does: with random passwords the
iteration count does not protect anything, and Mosquitto pays it at every connect).
"""

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from devices.models import Protocol

ITERATIONS = 101
CHANNELS = ("vitals", "event", "location", "status")


def new_password() -> str:
    return secrets.token_urlsafe(18)


def password_hash(password: str, *, salt: bytes | None = None) -> str:
    """Mosquitto's `$7$iterations$salt$hash` form (its password file's)."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    return f"$7${ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


async def ensure_accounts(*, conn: AsyncConnection, names: Sequence[str]) -> dict[str, str]:
    """Make the MQTT accounts among `names` that are new, in one statement; each new
    one's password (to be shown once). One that existed (a home's Zigbee2MQTT account,
    shared by its sensors) keeps its password."""
    passwords = {name: new_password() for name in names}
    cur = await conn.execute(
        "INSERT INTO mqtt_accounts (name, password_hash)"
        " SELECT * FROM unnest(%s::text[], %s::text[])"
        " ON CONFLICT (name) DO NOTHING RETURNING name",
        (list(passwords), [password_hash(p) for p in passwords.values()]),
    )
    return {name: passwords[name] for (name,) in await cur.fetchall()}


async def reset_password(*, conn: AsyncConnection, name: str) -> str | None:
    password = new_password()
    cur = await conn.execute(
        "UPDATE mqtt_accounts SET password_hash = %s WHERE name = %s",
        (password_hash(password), name),
    )
    return password if cur.rowcount else None


@dataclass(frozen=True)
class ServiceAccount:
    """The Anxin service's own account: ingest, the watch gateway, downlink commands."""

    username: str
    password: str
    zigbee2mqtt_base: str


@dataclass(frozen=True)
class SpeaksFor:
    account: str
    device_id: str
    protocol: Protocol
    name: str | None


async def speakers(*, conn: AsyncConnection) -> list[SpeaksFor]:
    cur = await conn.execute(
        "SELECT account, id, protocol, name FROM devices WHERE account IS NOT NULL"
        " ORDER BY account, id"
    )
    return [SpeaksFor(a, i, Protocol(p), n) for a, i, p, n in await cur.fetchall()]


async def account_hashes(*, conn: AsyncConnection) -> dict[str, str]:
    cur = await conn.execute("SELECT name, password_hash FROM mqtt_accounts")
    return {name: hashed for name, hashed in await cur.fetchall()}


def _acl(kind: str, topic: str) -> dict[str, Any]:
    return {"acltype": kind, "topic": topic, "allow": True}


def _may_publish(topic: str) -> list[dict[str, Any]]:
    return [_acl("publishClientSend", topic)]


def _may_read(topic: str) -> list[dict[str, Any]]:
    return [_acl("subscribeLiteral", topic), _acl("publishClientReceive", topic)]


def device_acls(device: SpeaksFor, zigbee2mqtt_base: str) -> list[dict[str, Any]]:
    """What one device's account may publish and read, on its own protocol's topics."""
    match device.protocol:
        case Protocol.ZIGBEE2MQTT:
            own = f"{zigbee2mqtt_base}/{device.name}"
            return [
                *_may_publish(own),
                *_may_publish(f"{own}/availability"),
                *_may_read(f"{own}/set"),
                *_may_read(f"{own}/get"),
            ]
        case Protocol.OWNTRACKS:
            own = f"owntracks/{device.name}"
            return [
                *_may_publish(own),
                *_may_publish(f"{own}/event"),
                *_may_publish(f"{own}/step"),
                *_may_read(f"{own}/cmd"),
            ]
        case _:
            own = f"anxin/v1/{device.device_id}"
            return [
                *(a for c in CHANNELS for a in _may_publish(f"{own}/{c}")),
                *_may_read(f"{own}/cmd"),
            ]


def dynamic_security(
    devices: Iterable[SpeaksFor], hashes: dict[str, str], service: ServiceAccount
) -> dict[str, Any]:
    """Mosquitto's dynamic-security configuration (its plugin's JSON file)."""
    by_account: dict[str, list[SpeaksFor]] = {}
    for d in devices:
        by_account.setdefault(d.account, []).append(d)
    clients: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    for account, spoken in sorted(by_account.items()):
        hashed = hashes.get(account)
        if hashed is None:
            continue  # registered without an account (by hand): it cannot connect
        clients.append({**_credentials(account, hashed), "clientid": account,
                        "roles": [{"rolename": f"device-{account}"}]})  # fmt: skip
        acls = [a for d in spoken for a in device_acls(d, service.zigbee2mqtt_base)]
        if any(d.protocol is Protocol.ZIGBEE2MQTT for d in spoken):
            acls += _may_publish(f"{service.zigbee2mqtt_base}/bridge/#")  # its bridge's own
        roles.append({"rolename": f"device-{account}", "acls": acls})
    base = service.zigbee2mqtt_base
    # anxin/gateways: what the watch gateway could not read (ingest.topics.GATEWAYS)
    reads = ["anxin/v1/#", f"{base}/#", "owntracks/#", "anxin/gateways/#"]
    roles.append({
        "rolename": "anxin-service",
        "acls": [
            *(_acl("subscribePattern", t) for t in reads),
            # instances of ingest splitting the stream (ANXIN_MQTT_SHARE_GROUP)
            *(_acl("subscribePattern", f"$share/+/{t}") for t in reads),
            *(_acl("publishClientReceive", t) for t in reads),
            *(_acl("unsubscribePattern", t) for t in reads),
            # the gateway publishes for its watches; commands go to every protocol's devices
            _acl("publishClientSend", "anxin/v1/+/+"),
            _acl("publishClientSend", "anxin/gateways/+/unread/+"),
            _acl("publishClientSend", f"{base}/+/set"),
            _acl("publishClientSend", "owntracks/+/+/cmd"),
        ],
    })  # fmt: skip
    clients.append({**_credentials(service.username, password_hash(service.password)),
                    "roles": [{"rolename": "anxin-service"}]})  # fmt: skip
    return {
        "clients": clients,
        "roles": roles,
        "groups": [],
        # Nothing is allowed unless a role says so: a device subscribing to anything
        # but its command topic, a shared subscription included, is refused.
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
    }


def _credentials(username: str, hashed: str) -> dict[str, Any]:
    _, _kind, iterations, salt, digest = hashed.split("$")
    return {"username": username, "password": digest, "salt": salt, "iterations": int(iterations)}


def dynamic_security_json(config: dict[str, Any]) -> str:
    return json.dumps(config, ensure_ascii=False, indent=1) + "\n"
