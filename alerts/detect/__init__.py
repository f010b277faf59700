"""The detector: per-device state in NumPy arrays, one set of array operations per batch.

`Engine.observe(observations)` takes a batch of readings already validated by ingest
and returns findings; `Engine.sweep(now)` runs the time-based rules (offline devices,
silent homes, doors left open) over every device at once. Neither reads the clock:
time comes from the readings or the caller, so a scenario replays at any speed.
"""

from alerts.detect.engine import Engine
from alerts.detect.observations import Observations

__all__ = ["Engine", "Observations"]
