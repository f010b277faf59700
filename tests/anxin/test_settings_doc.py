"""docs/operating.md's settings table is whole: every setting the service reads is a
row, and no row names a setting that is not there."""

import re
from pathlib import Path

from anxin.settings import Settings

DOC = Path(__file__).parents[2] / "docs" / "operating.md"


def documented() -> set[str]:
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("| `")]
    return {
        name.lower() for row in rows for name in re.findall(r"`([A-Z0-9_]+)`", row.split("|")[1])
    }


def test_every_setting_is_in_the_operating_guide_and_only_those() -> None:
    assert documented() == set(Settings.model_fields)
