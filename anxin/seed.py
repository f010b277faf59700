"""Demo data: residents at home and service points around Wuhan."""

import numpy as np
import psycopg

from devices import service as devices
from devices.models import CareFlag, DeviceIn, DeviceKind, ResidentIn
from dispatch import service as dispatch
from dispatch.models import PointKind, ServicePointIn
from simulators.fleet import WearableFleet

WUHAN = (30.5928, 114.3055)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["秀英", "桂英", "玉兰", "建国", "国华", "淑珍", "德明", "凤英", "志强", "丽华"]


async def seed_demo(dsn: str, fleet: WearableFleet, *, service_points: int = 30) -> None:
    rng = np.random.default_rng(2026)
    lat = WUHAN[0] + rng.normal(0, 0.05, fleet.n)
    lon = WUHAN[1] + rng.normal(0, 0.06, fleet.n)
    residents = [
        ResidentIn(
            id=d.resident_id,
            name=SURNAMES[i % len(SURNAMES)] + GIVEN[i % len(GIVEN)],
            home_lat=float(lat[i]),
            home_lon=float(lon[i]),
            flags=[CareFlag.DEMENTIA] if i % 17 == 0 else [],
        )
        for i, d in enumerate(fleet.devices)
    ]
    wearables = [
        DeviceIn(id=d.id, kind=DeviceKind.WATCH, resident_id=d.resident_id) for d in fleet.devices
    ]
    buttons = [
        DeviceIn(id=f"{d.resident_id}-sos", kind=DeviceKind.SOS_BUTTON, resident_id=d.resident_id)
        for d in fleet.devices[::3]
    ]
    sp_lat = WUHAN[0] + rng.normal(0, 0.05, service_points)
    sp_lon = WUHAN[1] + rng.normal(0, 0.06, service_points)
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await devices.add_residents(conn=conn, residents=residents)
        await devices.register_devices(conn=conn, devices=wearables + buttons)
        await dispatch.add_service_points(
            conn=conn,
            points=[
                ServicePointIn(
                    id=f"sp-{i:03d}",
                    name=f"社区养老服务站 {i + 1}",
                    kind=PointKind.COMPLEX if i % 5 == 0 else PointKind.STATION,
                    lat=float(sp_lat[i]),
                    lon=float(sp_lon[i]),
                )
                for i in range(service_points)
            ],
        )
