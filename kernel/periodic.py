"""How every long-running step runs: every period, and at once when a commit wakes it,
under the one supervisor (anxin/supervisor.py). The detector's sweep, refresh and
snapshot, escalation, the dispatch offers, the outbox and the incident gauges all run
here (anxin/app.py wires them). The database being away is waited out and logged once
for the whole service; any other error ends the loop, for the supervisor to log,
report and restart.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from kernel.outage import DB_UNAVAILABLE, OutageLog


async def every(
    period_s: float,
    step: Callable[[], Awaitable[object]],
    outage: OutageLog,
    *,
    reaches_db: bool = True,
    wake: asyncio.Event | None = None,
) -> None:
    """Run `step` every period until cancelled, and at once when `wake` is set (by a
    commit: kernel.listener). `reaches_db`: a step that returns without error has
    spoken to the database (so an outage it saw is over)."""
    while True:
        if wake is None:
            await asyncio.sleep(period_s)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), period_s)
            wake.clear()  # a commit during the step wakes the next one
        attempt_started = time.monotonic()
        try:
            await step()
        except DB_UNAVAILABLE as exc:
            outage.failed(exc, attempt_started=attempt_started)
            continue
        if reaches_db:
            outage.succeeded()
