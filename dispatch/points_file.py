"""Service points and staff from the files a district keeps: CSV (one row per point;
capabilities as `emergency;nursing`, hours as `mon-fri 08:00-20:00; sat 09:00-12:00`)
or GeoJSON (a FeatureCollection of Points whose properties are the same columns).
Each bad row is reported with its line (a GeoJSON feature: its number) and what is
wrong; the good ones are kept."""

import json
from pathlib import Path
from typing import Any

from dispatch.models import ServicePointIn, StaffIn
from kernel.errors import Invalid
from kernel.rows import Parsed, csv_records, not_json, read_text, validate_rows


def read_points(path: Path) -> Parsed[ServicePointIn]:
    text = read_text(path)
    if path.suffix.lower() in (".geojson", ".json"):
        rows = _features(text)
    else:
        rows = csv_records(text, set(ServicePointIn.model_fields))
    return validate_rows(rows, ServicePointIn, lambda p: p.id)


def read_staff(path: Path) -> Parsed[StaffIn]:
    rows = csv_records(read_text(path), set(StaffIn.model_fields))
    return validate_rows(rows, StaffIn, lambda s: s.id)


def _features(text: str) -> list[tuple[int, Any]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid(not_json(exc)) from exc
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        msg = "expected a GeoJSON FeatureCollection"
        raise Invalid(msg)
    rows: list[tuple[int, Any]] = []
    for n, feature in enumerate(doc.get("features") or [], start=1):
        rows.append((n, _point(feature)))
    return rows


def _point(feature: Any) -> dict[str, Any] | str:
    geometry = feature.get("geometry") if isinstance(feature, dict) else None
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        return "not a Point feature"
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) < 2:
        return "a Point needs [longitude, latitude]"
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        return "properties must be an object"
    # GeoJSON puts longitude first (RFC 7946)
    return {**properties, "lon": coordinates[0], "lat": coordinates[1]}
