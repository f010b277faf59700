"""`anxin simulate`: a wearable fleet publishing vitals and occasional SOS presses."""

import sys
import time
from collections.abc import Callable

import numpy as np

from simulators.fleet import WearableFleet
from simulators.publisher import Publisher

TICKS_PER_S = 10


def run_fleet(
    fleet: WearableFleet,
    publisher: Publisher,
    *,
    rate: float,
    duration: float,
    sos_per_min: float = 1.0,
    progress: Callable[[str], None] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> dict[str, int]:
    """Publish `rate` vitals messages per second across the fleet for `duration` s."""
    for i, dev in enumerate(fleet.devices):
        publisher.publish(f"anxin/v1/{dev.id}/status", fleet.status(i, time.time()), "status")
    start = time.monotonic()
    next_device = 0
    sent = 0.0
    last_report = start
    last_tick = start
    while (elapsed := time.monotonic() - start) < duration and not stop():
        due = int(rate * elapsed) - int(sent)
        if due > 0:
            idx = (np.arange(due) + next_device) % fleet.n
            next_device = (next_device + due) % fleet.n
            now = time.time()
            for i, payload in zip(idx.tolist(), fleet.vitals(idx, now), strict=True):
                publisher.publish(f"anxin/v1/{fleet.devices[i].id}/vitals", payload, "vitals")
            sent += due
        tick = time.monotonic()
        # SOS presses arrive as a Poisson process across the fleet.
        if fleet.rng.random() < sos_per_min / 60 * (tick - last_tick):
            device_id, event = fleet.sos(time.time())
            publisher.publish(f"anxin/v1/{device_id}/event", event, "event")
        last_tick = tick
        if progress and time.monotonic() - last_report >= 1:
            last_report = time.monotonic()
            progress(f"simulate: {elapsed:5.1f}s / {duration:.0f}s, {int(sent)} vitals published")
        time.sleep(1 / TICKS_PER_S)
    publisher.flush()
    return dict(publisher.acknowledged)


def stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
