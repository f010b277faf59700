"""What an adapter makes of one message of a foreign protocol."""

from typing import Any

from ingest.records import Ignored, Rejected, Unresolved

# (device id, canonical channel, canonical payload): what the device would have
# published on anxin/v1/<id>/<channel>; the canonical codec checks it like any other.
Canonical = tuple[str, str, dict[str, Any]]
Translated = list[Canonical] | Ignored | Rejected | Unresolved
