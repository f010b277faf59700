"""Rows from a file someone sends (CSV, JSON, GeoJSON): each validated against its
schema, each bad one reported with its line and what is wrong (in Chinese: the people
preparing these files read it), the good ones kept. A CSV may come from Excel in China:
GBK (read as GB18030, its superset) or UTF-8 with a BOM."""

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from kernel.errors import Invalid
from kernel.language import Lang
from kernel.os_words import os_reason
from kernel.validation import describe

M = TypeVar("M", bound=BaseModel)


@dataclass
class Parsed(Generic[M]):
    good: list[M] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # each good row's line
    # (line, what is wrong)
    problems: list[tuple[int, str]] = field(default_factory=list)


def validate_rows(
    rows: Iterable[tuple[int, Any]], model: type[M], key: Callable[[M], str]
) -> Parsed[M]:
    """`rows` are (line, mapping) or (line, a problem found while reading it); a row
    whose `key` repeats an earlier row's is refused, naming that row's line."""
    parsed: Parsed[M] = Parsed()
    seen: dict[str, int] = {}
    for line, row in rows:
        if isinstance(row, str):
            parsed.problems.append((line, row))
            continue
        try:
            # a file's cells are text ("30.6", "1946-03-08"): read as text is read, not
            # as an API body, whose JSON says each value's type
            item = model.model_validate(row, strict=False)
        except ValidationError as exc:
            parsed.problems.append((line, describe(exc, lang=Lang.ZH)))
            continue
        if key(item) in seen:
            parsed.problems.append((line, f"编号 {key(item)!r} 与第 {seen[key(item)]} 行重复"))
            continue
        seen[key(item)] = line
        parsed.good.append(item)
        parsed.lines.append(line)
    return parsed


def refuse(parsed: Parsed[M], bad: Callable[[M], str | None]) -> None:
    """Move good rows that `bad` finds a problem with (e.g. naming a record that does
    not exist) to the problems, in line order."""
    kept: list[tuple[int, M]] = []
    for line, item in zip(parsed.lines, parsed.good, strict=True):
        problem = bad(item)
        if problem is None:
            kept.append((line, item))
        else:
            parsed.problems.append((line, problem))
    parsed.problems.sort()
    parsed.lines = [line for line, _ in kept]
    parsed.good = [item for _, item in kept]


def read_text(path: Path) -> str:
    """The file's text: UTF-8 (with or without the BOM Excel writes), else GB18030 (which
    reads GBK, what Excel in China saves a CSV as)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        msg = f"cannot read {str(path)!r}: {unreadable(exc)}"
        raise Invalid(msg) from exc
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    msg = f"cannot read {str(path)!r}: neither UTF-8 nor GBK/GB18030 text"
    raise Invalid(msg)


def unreadable(exc: OSError | UnicodeDecodeError) -> str:
    """Why a file could not be read, in our words (not the C library's)."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    return os_reason(exc)


def not_json(exc: json.JSONDecodeError) -> str:
    """Where a JSON document stops being JSON, in our words."""
    return f"not valid JSON (line {exc.lineno}, column {exc.colno})"


def csv_records(text: str, known: set[str]) -> list[tuple[int, dict[str, str] | str]]:
    """Per row: its line and its non-empty cells, stripped (or what is wrong with it).
    A column not in `known` refuses the whole file: every row would be misread."""
    reader = csv.DictReader(io.StringIO(text))
    unknown = [c for c in reader.fieldnames or [] if c not in known]
    if unknown or not reader.fieldnames:
        columns = ", ".join(sorted(known))
        msg = (
            f"unknown CSV columns: {', '.join(unknown)}; the columns are: {columns}"
            if unknown
            else f"empty CSV file; the columns are: {columns}"
        )
        raise Invalid(msg)
    rows: list[tuple[int, dict[str, str] | str]] = []
    for record in reader:
        if None in record:  # more cells than the header has columns
            rows.append((reader.line_num, "单元格比表头的列多"))
            continue
        cells = {k: v.strip() for k, v in record.items() if v and v.strip()}
        rows.append((reader.line_num, cells))
    return rows


def json_rows(text: str) -> list[tuple[int, Any]]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise Invalid(not_json(exc)) from exc
        # an array's items are numbered from 1, as its lines are unknown
        return list(enumerate(items, start=1))
    rows: list[tuple[int, Any]] = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            rows.append((line, json.loads(raw)))
        except json.JSONDecodeError as exc:
            rows.append((line, f"不是有效的 JSON（第 {exc.colno} 列）"))
    return rows


def file_rows(
    path: Path, csv_rows: Callable[[str], list[tuple[int, Any]]]
) -> list[tuple[int, Any]]:
    """A file's rows: JSON (an array, or one object per line) by its suffix, else CSV
    read by `csv_rows`."""
    text = read_text(path)
    if path.suffix.lower() in (".json", ".jsonl", ".ndjson"):
        return json_rows(text)
    return csv_rows(text)
