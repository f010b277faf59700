"""Devices from a file a district or an installer sends: CSV with a header row (id,
kind, protocol, name, account, resident_id, expected_interval_s; only id and kind are
required) or JSON (an array of objects, or one per line). Each bad row is reported with
its line and what is wrong."""

from pathlib import Path
from typing import Any

from devices.models import DeviceIn
from kernel.rows import Parsed, csv_records, file_rows, validate_rows


def read_devices(path: Path) -> Parsed[DeviceIn]:
    return validate_rows(file_rows(path, _csv_rows), DeviceIn, lambda d: d.id)


def _csv_rows(text: str) -> list[tuple[int, Any]]:
    return [
        (line, cells if isinstance(cells, str) else {k: v for k, v in cells.items() if v})
        for line, cells in csv_records(text, set(DeviceIn.model_fields))
    ]
