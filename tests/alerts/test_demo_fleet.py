"""The demo's simulated fleet is a healthy one: it opens no vital-sign alert, at the
demo's pace of a reading every 6 s, in the small hours when pulse and pressure dip."""

from collections import Counter

import numpy as np

from alerts.detect import Engine, Observations
from alerts.detect.config import DetectorConfig
from alerts.detect.observations import METRICS, Vitals
from alerts.detect.registry import DeviceInfo, HomeInfo
from alerts.models import Finding
from devices.models import DeviceKind
from simulators.fleet import WearableFleet
from tests.alerts.detect_helpers import local


def test_the_demo_fleet_raises_no_vital_sign_alert_in_its_first_ten_minutes() -> None:
    fleet = WearableFleet(300, prefix="demo")
    e = Engine(DetectorConfig())
    e.register(
        homes=[HomeInfo(d.resident_id, frozenset(), None, None) for d in fleet.devices],
        devices=[DeviceInfo(d.id, DeviceKind.WATCH, d.resident_id, 60.0) for d in fleet.devices],
    )
    dev = e.registry.device_index([d.id for d in fleet.devices])
    every = np.arange(fleet.n)
    found: Counter[str] = Counter()
    t = local(3)  # 03:00 in Wuhan
    for _ in range(100):
        rows = fleet.vitals(every, t)
        values = np.array([[r[m] for m in METRICS] for r in rows], np.float32)
        batch = Vitals(dev, np.full(fleet.n, t), values, np.full(fleet.n, 80, np.float32))
        for o in e.observe(Observations(vitals=batch)):
            if isinstance(o, Finding):
                found[o.reason] += 1
        t += 6
    assert found == Counter()
