"""Residents from a file a district sends: CSV (one row per resident, up to three
contacts as contact1_name, contact1_relation, contact1_phone, contact1_sms, ...) or
JSON (an array of objects, or one object per line). Each bad row is reported with its
line and what is wrong; the good ones are kept."""

from pathlib import Path
from typing import Any

from devices.models import ResidentIn
from kernel.rows import Parsed, csv_records, file_rows, validate_rows

MAX_CONTACTS_IN_CSV = 3
_CONTACT_FIELDS = ("name", "relation", "phone", "sms")
_YES = {"1", "true", "yes", "y", "是", "可"}
_NO = {"0", "false", "no", "n", "否", "不"}


def read_residents(path: Path) -> Parsed[ResidentIn]:
    return validate_rows(file_rows(path, _csv_rows), ResidentIn, lambda r: r.id)


def _csv_rows(text: str) -> list[tuple[int, Any]]:
    known = set(ResidentIn.model_fields) - {"contacts"} | {
        f"contact{k}_{f}" for k in range(1, MAX_CONTACTS_IN_CSV + 1) for f in _CONTACT_FIELDS
    }
    return [
        (line, cells if isinstance(cells, str) else _from_csv(cells))
        for line, cells in csv_records(text, known)
    ]


def _from_csv(record: dict[str, str]) -> dict[str, Any] | str:
    values: dict[str, Any] = dict(record)
    if "flags" in values:
        values["flags"] = [f.strip() for f in values["flags"].replace("|", ";").split(";")]
    contacts = []
    for k in range(1, MAX_CONTACTS_IN_CSV + 1):
        contact = {f: values.pop(f"contact{k}_{f}", None) for f in _CONTACT_FIELDS}
        if not any(contact.values()):
            continue
        sms = (contact.pop("sms") or "yes").lower()
        if sms not in _YES | _NO:
            return f"contact{k}_sms: 应为 yes 或 no，收到 {sms!r}"
        contacts.append({**contact, "sms": sms in _YES})
    if contacts:
        values["contacts"] = contacts
    return values
