"""Commands to devices: locate now, set the reporting interval, set the SOS numbers.

A command is a row, then a QoS 1 message on `anxin/v1/<id>/cmd`:
`{"id": 17, "command": "locate"}`, `{"id": 18, "command": "set_interval",
"interval_s": 300}`, `{"id": 19, "command": "set_sos_numbers", "numbers": [...]}`.
The broker is the queue: it keeps the message for a device with a persistent session
that is away. `published_at` is when the broker acknowledged it; a command the broker
could not take is marked failed, with why, and the caller is told (nothing is queued
behind the operator's back). The device answers with an event
`{"type": "command_result", "data": {"command_id": 17, "ok": true, "detail": "..."}}`
(the watch gateway answers for a watch when it echoes the command), which ingest
stores and records here.
"""

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from psycopg import AsyncConnection
from psycopg.rows import class_row
from pydantic import BaseModel, Field

from kernel.types import PhoneNumber, RequestBody, Whole

COMMAND_TOPIC = "anxin/v1/{device_id}/cmd"
# hands a payload to the broker; raises ConnectionError (or TimeoutError) if it cannot
Publish = Callable[[str, bytes], Awaitable[None]]


class CommandName(StrEnum):
    LOCATE = "locate"
    SET_INTERVAL = "set_interval"
    SET_SOS_NUMBERS = "set_sos_numbers"


class _CommandBody(RequestBody):
    def params(self) -> dict[str, Any]:
        return self.model_dump(exclude={"command"}, exclude_none=True)


class Locate(_CommandBody):
    """Report where you are now."""

    command: Literal["locate"]


class SetInterval(_CommandBody):
    command: Literal["set_interval"]
    interval_s: Whole = Field(ge=10, le=86_400, description="seconds between reports")


class SetSosNumbers(_CommandBody):
    command: Literal["set_sos_numbers"]
    # what the SOS button calls, in order (a watch has three)
    numbers: list[PhoneNumber] = Field(min_length=1, max_length=3)


# Each command with exactly its parameters: the OpenAPI document says which
# (a oneOf on `command`), and a parameter of another command is refused.
CommandIn = Annotated[Locate | SetInterval | SetSosNumbers, Field(discriminator="command")]


class Command(BaseModel):
    id: int
    device_id: str
    command: CommandName
    params: dict[str, Any]
    requested_by: str
    requested_at: datetime
    published_at: datetime | None
    failed: str | None
    answered_at: datetime | None
    ok: bool | None
    detail: str | None


_COLUMNS = (
    "id, device_id, command, params, requested_by, requested_at, published_at, failed,"
    " answered_at, ok, detail"
)


async def send(
    *, conn: AsyncConnection, device_id: str, command: CommandIn, actor: str, publish: Publish
) -> Command:
    """Record the command, hand it to the broker, record that it did (or why not).
    `conn` is in autocommit: the row is there before the device can answer it."""
    cur = await conn.execute(
        "INSERT INTO device_commands (device_id, command, params, requested_by)"
        " VALUES (%s, %s, %s, %s) RETURNING id",
        (device_id, str(command.command), json.dumps(command.params()), actor),
    )
    row = await cur.fetchone()
    assert row is not None
    command_id = int(row[0])
    body = {"id": command_id, "command": str(command.command), **command.params()}
    try:
        await publish(COMMAND_TOPIC.format(device_id=device_id), json.dumps(body).encode())
    except (ConnectionError, TimeoutError) as exc:
        why = "timed out" if isinstance(exc, TimeoutError) else "not connected to it"
        await conn.execute(
            "UPDATE device_commands SET failed = %s WHERE id = %s",
            (f"the broker did not take it ({why})", command_id),
        )
    else:
        await conn.execute(
            "UPDATE device_commands SET published_at = now() WHERE id = %s", (command_id,)
        )
    return (await history(conn=conn, device_id=device_id, ids=[command_id]))[0]


async def history(
    *, conn: AsyncConnection, device_id: str, ids: Sequence[int] | None = None, limit: int = 50
) -> list[Command]:
    async with conn.cursor(row_factory=class_row(Command)) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM device_commands WHERE device_id = %(device)s"
            " AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s))"
            " ORDER BY id DESC LIMIT %(limit)s",
            {"device": device_id, "ids": None if ids is None else list(ids), "limit": limit},
        )
        return await cur.fetchall()


async def record_answers(
    *, conn: AsyncConnection, answers: Sequence[tuple[str, float, dict[str, Any]]]
) -> None:
    """(device id, ts, the event's data) of command_result events: the first answer to
    each command of that device counts; an answer naming no command of its device is
    left in the event table only."""
    rows = []
    for device_id, ts, data in answers:
        command_id = data.get("command_id")
        if isinstance(command_id, int) and not isinstance(command_id, bool):
            ok = data.get("ok") if isinstance(data.get("ok"), bool) else None
            detail = data.get("detail")
            rows.append((ts, ok, str(detail)[:500] if detail is not None else None,
                         command_id, device_id))  # fmt: skip
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany(
                "UPDATE device_commands SET answered_at = to_timestamp(%s), ok = %s, detail = %s"
                " WHERE id = %s AND device_id = %s AND answered_at IS NULL",
                rows,
            )
