"""Which registered device a name on a protocol stands for (a Zigbee2MQTT friendly
name, OwnTracks' user/device).

The decoders run on the MQTT thread and cannot wait for the database, so they read a
cache; a name not in it (or looked up too long ago: a device may have been renamed or
re-registered) comes back as `Unresolved`, and the writer loads it before decoding the
message again. A name that is not registered is cached as such for the same time, so a
stream from an unregistered sensor costs one query per `ttl_s`, not one per message.
"""

import time
from dataclasses import dataclass

from psycopg import AsyncConnection

from devices.models import DeviceKind
from ingest.records import Rejected, Unresolved

MAX_NAMES = 100_000  # a flood of made-up names empties the cache rather than filling memory


@dataclass(frozen=True, slots=True)
class Known:
    device_id: str
    kind: DeviceKind


class NotLookedUp:
    """The cache has no fresh answer for this name."""


NOT_LOOKED_UP = NotLookedUp()


class DeviceNames:
    def __init__(self, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s
        self._cache: dict[tuple[str, str], tuple[Known | None, float]] = {}

    def get(self, protocol: str, name: str) -> Known | NotLookedUp | None:
        """The device, None when no device has that name, NOT_LOOKED_UP when unsure."""
        entry = self._cache.get((protocol, name))
        if entry is None or time.monotonic() - entry[1] > self.ttl_s:
            return NOT_LOOKED_UP
        return entry[0]

    def find(self, protocol: str, name: str) -> Known | Unresolved | Rejected:
        """The device, the reason to dead-letter its message, or a name to look up."""
        known = self.get(protocol, name)
        if isinstance(known, NotLookedUp):
            return Unresolved(protocol, name)
        if known is None:
            return Rejected(f"no {protocol} device named {name[:120]!r} is registered")
        return known

    async def load(self, conn: AsyncConnection, wanted: set[tuple[str, str]]) -> None:
        if not wanted:
            return
        protocols, names = zip(*wanted, strict=True)
        cur = await conn.execute(
            "SELECT d.protocol, d.name, d.id, d.kind FROM devices d"
            " JOIN unnest(%s::text[], %s::text[]) AS w (protocol, name)"
            " ON d.protocol = w.protocol AND d.name = w.name",
            (list(protocols), list(names)),
        )
        found = {(p, n): Known(i, DeviceKind(k)) for p, n, i, k in await cur.fetchall()}
        for protocol, name in wanted:
            self.remember(protocol, name, found.get((protocol, name)))

    def remember(self, protocol: str, name: str, known: Known | None) -> None:
        if len(self._cache) >= MAX_NAMES:
            self._cache.clear()
        self._cache[(protocol, name)] = (known, time.monotonic())
