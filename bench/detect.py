"""Detector throughput in process: 100,000 devices, batches of vitals and events.

    python -m bench.detect [--devices N] [--batches B]

Prints one JSON object: readings_per_s (vitals and events through Engine.observe, plus
one sweep per batch; the median of several repeats, with the best and worst beside
it), state_bytes_per_device, and the findings raised (a healthy fleet
with a few sick wearers, so the rules' slow paths run too).
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

from alerts.detect import Engine, Observations
from alerts.detect.observations import EVENT_CODE, Events, Vitals
from alerts.detect.registry import DeviceInfo, HomeInfo
from devices.models import DeviceKind, EventType


def fleet(engine: Engine, n: int) -> None:
    homes = [HomeInfo(f"r{i}") for i in range(n // 2)]
    kinds = (DeviceKind.WATCH, DeviceKind.MOTION)
    devices = [DeviceInfo(f"d{i}", kinds[i % 2], f"r{i // 2}", 60.0) for i in range(n)]
    engine.register(homes=homes, devices=devices)


def batches(n: int, count: int, rng: np.random.Generator) -> list[Observations]:
    watches = np.arange(0, n, 2, dtype=np.int32)
    motions = np.arange(1, n, 2, dtype=np.int32)
    base = np.array([72, 96, 36.6, 128, 16], np.float32)
    noise = np.array([4, 1, 0.15, 6, 1.2], np.float32)
    out = []
    t0 = 1_780_000_000.0
    for b in range(count):
        t = t0 + 60.0 * b
        values = base + rng.normal(0, 1, (len(watches), 5)).astype(np.float32) * noise
        values[: len(watches) // 1000, 1] = 86  # one in a thousand wearers desaturating
        vitals = Vitals(
            watches,
            t + rng.uniform(0, 59, len(watches)),
            values,
            np.full(len(watches), 80, np.float32),
        )
        events = Events(
            motions,
            t + rng.uniform(0, 59, len(motions)),
            np.full(len(motions), EVENT_CODE[EventType.MOTION], np.int8),
            [""] * len(motions),
        )
        out.append(Observations(vitals=vitals, events=events))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    engine = Engine()
    fleet(engine, args.devices)
    data = batches(args.devices, args.batches + 3, np.random.default_rng(1))
    for obs in data[:3]:  # warm the arrays and caches
        engine.observe(obs)
    findings = 0
    rates = []
    readings = sum(len(obs) for obs in data[3:])
    for attempt in range(args.repeats):  # this machine's speed wanders: report the spread
        started = time.perf_counter()
        for obs in data[3:]:
            # shift time on so every repeat is new data to the engine, not late readings
            obs.vitals.ts += 60.0 * len(data) * (attempt > 0)
            obs.events.ts += 60.0 * len(data) * (attempt > 0)
            findings += len(engine.observe(obs))
            findings += len(engine.sweep(float(obs.vitals.ts.max())))
        rates.append(readings / (time.perf_counter() - started))
        print(f"repeat {attempt + 1}: {rates[-1]:,.0f} readings/s", file=sys.stderr)
    print(
        json.dumps(
            {
                "devices": args.devices,
                "readings_per_repeat": readings,
                "repeats": args.repeats,
                "readings_per_s": round(float(np.median(rates))),
                "readings_per_s_best": round(max(rates)),
                "readings_per_s_worst": round(min(rates)),
                "state_bytes_per_device": round(engine.state_bytes() / args.devices),
                "findings": findings,
                "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
                "python": platform.python_version(),
                "numpy": np.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
