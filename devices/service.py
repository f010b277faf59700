"""Register and look up residents and devices."""

from collections.abc import Iterable, Sequence
from datetime import datetime

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row

from devices.errors import DeviceExists, UnknownDevice, UnknownResident
from devices.models import EXPECTED_INTERVAL_S, Device, DeviceIn, Resident, ResidentIn
from devices.mqtt_access import ensure_accounts
from kernel.errors import Invalid

_DEVICE = "id, kind, resident_id, expected_interval_s, protocol, name, account"
_PROFILE = (
    "name", "home_lat", "home_lon", "address", "flags", "phone", "birth_date", "district",
    "community", "medical_notes", "allergies", "mobility", "access_notes", "language",
)  # fmt: skip


async def add_residents(*, conn: AsyncConnection, residents: Sequence[ResidentIn]) -> int:
    """Insert or update residents (and replace the contacts of those that list them);
    returns how many were written."""
    columns = ", ".join(_PROFILE)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _PROFILE)
    async with conn.cursor() as cur:
        await cur.executemany(
            f"INSERT INTO residents (id, {columns}) VALUES (%s{', %s' * len(_PROFILE)})"
            f" ON CONFLICT (id) DO UPDATE SET {updates}, updated_at = now()",
            [(r.id, *(getattr(r, c) for c in _PROFILE)) for r in residents],
        )
        replaced = [r for r in residents if r.contacts is not None]
        if replaced:
            await cur.execute(
                "DELETE FROM resident_contacts WHERE resident_id = ANY(%s)",
                ([r.id for r in replaced],),
            )
            await cur.executemany(
                "INSERT INTO resident_contacts (resident_id, position, name, relation, phone, sms)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                [
                    (r.id, k, c.name, c.relation, c.phone, c.sms)
                    for r in replaced
                    for k, c in enumerate(r.contacts or [], start=1)
                ],
            )
    return len(residents)


async def get_resident(*, conn: AsyncConnection, resident_id: str) -> Resident:
    """One resident with their contacts in calling order."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT id, {', '.join(_PROFILE)} FROM residents WHERE id = %s", (resident_id,)
        )
        row = await cur.fetchone()
        if row is None:
            msg = f"unknown resident {resident_id!r}"
            raise UnknownResident(msg)
        await cur.execute(
            "SELECT name, relation, phone, sms FROM resident_contacts WHERE resident_id = %s"
            " ORDER BY position",
            (resident_id,),
        )
        row["contacts"] = await cur.fetchall()
    return Resident.model_validate(row)


async def provision_devices(
    *, conn: AsyncConnection, devices: Sequence[DeviceIn], reserved: Iterable[str] = ()
) -> dict[str, str]:
    """Register devices, all or none (an id or a name already taken is a conflict), and
    make the MQTT accounts that are new; returns each new account's password, which is
    shown once and stored only hashed. `reserved`: client ids of Anxin's own services,
    which no device account may take (a device's account is also its client id)."""
    taken = set(reserved)
    for d in devices:
        if d.mqtt_account in taken:
            msg = f"{d.mqtt_account!r} is the client id of Anxin's own service; pick another"
            raise Invalid(msg)
    try:
        async with conn.transaction():
            await _insert_devices(conn, devices, on_conflict="")
            accounts = {d.mqtt_account: None for d in devices if d.mqtt_account is not None}
            return await ensure_accounts(conn=conn, names=list(accounts))
    except psycopg.errors.UniqueViolation as exc:
        raise await _already_taken(conn, devices, exc.diag.constraint_name) from exc
    except psycopg.errors.ForeignKeyViolation as exc:
        residents = sorted({d.resident_id for d in devices if d.resident_id is not None})
        cur = await conn.execute("SELECT id FROM residents WHERE id = ANY(%s)", (residents,))
        known = {row[0] for row in await cur.fetchall()}
        msg = f"unknown resident {next((r for r in residents if r not in known), '?')!r}"
        raise UnknownResident(msg) from exc


async def _already_taken(
    conn: AsyncConnection, devices: Sequence[DeviceIn], constraint: str | None
) -> DeviceExists:
    """Which id or name was taken, asked of the data rather than read out of
    PostgreSQL's sentence (a locale or a release may word it otherwise)."""
    if constraint == "devices_name":
        named = [(str(d.protocol), d.name) for d in devices if d.name is not None]
        cur = await conn.execute(
            "SELECT d.protocol, d.name FROM devices d"
            " JOIN unnest(%s::text[], %s::text[]) AS w (protocol, name)"
            " ON d.protocol = w.protocol AND d.name = w.name LIMIT 1",
            ([p for p, _ in named], [n for _, n in named]),
        )
        protocol, name = await cur.fetchone() or _repeated(named) or ("?", "?")
        msg = f"another {protocol} device is already named {name!r}"
        return DeviceExists(msg)
    ids = [d.id for d in devices]
    cur = await conn.execute("SELECT id FROM devices WHERE id = ANY(%s) LIMIT 1", (ids,))
    (key,) = await cur.fetchone() or _repeated([(i,) for i in ids]) or ("?",)
    msg = f"device {key!r} is already registered"
    return DeviceExists(msg)


def _repeated(values: Sequence[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The first value given twice (an import that names one device twice)."""
    seen: set[tuple[str, ...]] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None


async def bind_device(*, conn: AsyncConnection, device_id: str, resident_id: str | None) -> Device:
    """Give a device to a resident (None: to nobody, e.g. back in the stockroom)."""
    try:
        cur = await conn.execute(
            "UPDATE devices SET resident_id = %s WHERE id = %s", (resident_id, device_id)
        )
    except psycopg.errors.ForeignKeyViolation as exc:
        msg = f"unknown resident {resident_id!r}"
        raise UnknownResident(msg) from exc
    if not cur.rowcount:
        msg = f"unknown device {device_id!r}"
        raise UnknownDevice(msg)
    return await get_device(conn=conn, device_id=device_id)


async def register_devices(*, conn: AsyncConnection, devices: Sequence[DeviceIn]) -> int:
    """Register many devices, keeping existing ones as they are (fleets, seeding)."""
    try:
        await _insert_devices(conn, devices, on_conflict="ON CONFLICT (id) DO NOTHING")
    except psycopg.errors.ForeignKeyViolation as exc:
        msg = "a device names an unknown resident"
        raise UnknownResident(msg) from exc
    return len(devices)


async def _insert_devices(
    conn: AsyncConnection, devices: Sequence[DeviceIn], *, on_conflict: str
) -> None:
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO devices (id, kind, resident_id, expected_interval_s, protocol, name,"
            f" account) VALUES (%s, %s, %s, %s, %s, %s, %s) {on_conflict}",
            [
                (
                    d.id,
                    str(d.kind),
                    d.resident_id,
                    d.expected_interval_s or EXPECTED_INTERVAL_S[d.kind],
                    str(d.protocol),
                    d.name,
                    d.mqtt_account,
                )
                for d in devices
            ],
        )


async def flag_over_limit(*, conn: AsyncConnection, device_ids: Iterable[str]) -> None:
    """Note that these devices sent more than ingest's rate limit lets through."""
    await conn.execute(
        "UPDATE devices SET over_limit_at = now() WHERE id = ANY(%s)", (list(device_ids),)
    )


async def get_device(*, conn: AsyncConnection, device_id: str) -> Device:
    async with conn.cursor(row_factory=class_row(Device)) as cur:
        await cur.execute(
            f"SELECT {_DEVICE} FROM devices WHERE id = %s",
            (device_id,),
        )
        device = await cur.fetchone()
    if device is None:
        msg = f"unknown device {device_id!r}"
        raise UnknownDevice(msg)
    return device


async def devices_by_id(*, conn: AsyncConnection, ids: Iterable[str] | None = None) -> list[Device]:
    """The devices with these ids (unregistered ones are left out), or all of them."""
    async with conn.cursor(row_factory=class_row(Device)) as cur:
        await cur.execute(
            f"SELECT {_DEVICE} FROM devices WHERE %(ids)s::text[] IS NULL OR id = ANY(%(ids)s)",
            {"ids": None if ids is None else list(ids)},
        )
        return await cur.fetchall()


async def registered(*, conn: AsyncConnection, ids: Iterable[str]) -> tuple[list[Device], set[str]]:
    """The registered devices among `ids`, and the ids that are no registered device."""
    wanted = set(ids)
    found = await devices_by_id(conn=conn, ids=wanted)
    return found, wanted.difference(d.id for d in found)


async def residents_by_id(
    *,
    conn: AsyncConnection,
    ids: Iterable[str] | None = None,
    changed_since: datetime | None = None,
) -> list[Resident]:
    """The residents with these ids, or all; only those changed since a time if given."""
    async with conn.cursor(row_factory=class_row(Resident)) as cur:
        await cur.execute(
            "SELECT id, name, home_lat, home_lon, address, flags FROM residents"
            " WHERE (%(ids)s::text[] IS NULL OR id = ANY(%(ids)s))"
            " AND (%(since)s::timestamptz IS NULL OR updated_at >= %(since)s)",
            {"ids": None if ids is None else list(ids), "since": changed_since},
        )
        return await cur.fetchall()
