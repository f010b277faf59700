"""Which registered device a name on a protocol stands for (a Zigbee2MQTT friendly
name, OwnTracks' user/device).

Adapters translate on the lane's writer, a batch at a time, and read a cache rather
than ask the database per message; a name not in it (or looked up too long ago: a
device may have been renamed or re-registered) comes back as `Unresolved`, and the
writer loads the batch's missing names in one query before translating again. A name
that is not registered is cached as such for the same time, so a stream from an
unregistered sensor costs one query per `ttl_s`, not one per message.
"""

import time
from dataclasses import dataclass

from psycopg import AsyncConnection

from devices.models import DeviceKind
from ingest.records import Rejected, Unresolved
from ingest.refusals import Refusal

MAX_NAMES = 100_000  # a flood of made-up names empties the cache rather than filling memory


@dataclass(frozen=True, slots=True)
class Known:
    device_id: str
    kind: DeviceKind


class DeviceNames:
    def __init__(self, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s
        self._cache: dict[tuple[str, str], tuple[Known | None, float]] = {}

    def find(self, protocol: str, name: str) -> Known | Unresolved | Rejected:
        """The device, the reason to dead-letter its message, or (not in the cache, or
        looked up too long ago) a name to look up."""
        entry = self._cache.get((protocol, name))
        if entry is None or time.monotonic() - entry[1] > self.ttl_s:
            return Unresolved(protocol, name)
        if entry[0] is None:
            return Rejected(Refusal.UNKNOWN_NAME, None, {"protocol": protocol, "name": name[:120]})
        return entry[0]

    async def load(self, *, conn: AsyncConnection, wanted: set[tuple[str, str]]) -> None:
        if not wanted:
            return
        protocols, names = zip(*wanted, strict=True)
        cur = await conn.execute(
            "SELECT d.protocol, d.name, d.id, d.kind FROM device_register d"
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
