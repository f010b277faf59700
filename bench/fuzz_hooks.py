"""What the OpenAPI document cannot say, told to schemathesis (`SCHEMATHESIS_HOOKS`).

A time window's `from` comes before its `to` (absent: now): each parameter's
description says so, and the API refuses a reversed window with 422, but OpenAPI has no
way to relate two parameters. So a case meant to be valid never has a reversed window.
"""

from datetime import UTC, datetime
from typing import Any

import schemathesis
from schemathesis import GenerationMode


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE:
        return True
    query = case.query or {}
    start, end = query.get("from"), query.get("to", datetime.now(UTC).isoformat())
    if not (isinstance(start, str) and isinstance(end, str)):
        return True
    try:
        # a minute's margin: `to` defaults to the server's now, a moment later
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() > 60
    except (ValueError, TypeError):  # aware and naive: not for this hook to judge
        return True
