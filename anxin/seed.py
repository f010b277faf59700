"""Demo data: residents at home, with their contacts, and the service points around
Wuhan that can be sent to them, with their staff."""

from datetime import date

import numpy as np
import psycopg

from devices import service as devices
from devices.models import CareFlag, ContactIn, DeviceIn, DeviceKind, ResidentIn
from dispatch import service as dispatch
from dispatch.models import Capability as C
from dispatch.models import PointKind, ServicePointIn, StaffIn, WeekHours
from simulators.fleet import WearableFleet

WUHAN = (30.5928, 114.3055)
# the central districts (approximate centres), where most residents and points are
DISTRICTS = {
    "江岸区": (30.600, 114.310),
    "江汉区": (30.601, 114.270),
    "硚口区": (30.582, 114.220),
    "汉阳区": (30.553, 114.220),
    "武昌区": (30.553, 114.316),
    "青山区": (30.634, 114.385),
    "洪山区": (30.505, 114.343),
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = [
    "秀英", "桂英", "玉兰", "建国", "国华", "淑珍", "德明", "凤英", "志强", "丽华",
    "桂兰", "秀兰", "玉珍", "春花", "金凤", "德才", "长青", "振华", "福生", "宝山",
    "素琴", "翠萍", "荣华", "永福", "桂芳", "淑芬", "兰英", "明德", "秋菊", "世杰",
]  # fmt: skip
RELATIONS = ["女儿", "儿子", "邻居", "侄女", "儿媳", "外孙女"]
STREETS = [
    "胜利街", "一元路", "中山大道", "解放大道", "民主路", "黄鹂路", "和平大道", "珞喻路",
    "建设大道", "汉阳大道", "友谊路", "武珞路", "青年路", "沿江大道", "徐东大街",
]  # fmt: skip
CONDITIONS = [
    "高血压，服氨氯地平", "2型糖尿病，服二甲双胍", "房颤，服华法林", "冠心病，心脏支架术后",
    "慢阻肺（COPD），夜间吸氧", "阿尔茨海默病早期", "骨质疏松，曾髋部骨折", "帕金森病",
    "脑梗后遗症，右侧肢体无力", "慢性肾病三期", None, None,
]  # fmt: skip
ALLERGIES = ["青霉素", "磺胺类", "海鲜", None, None, None, None]
ACCESS = [
    "钥匙箱密码 {code}", "邻居{neighbour}家有备用钥匙", "门卫室有钥匙", "子女有钥匙，电话联系",
    "家中常有保姆",
]  # fmt: skip
MOBILITY = ["可自行行走", "需扶拐杖", "使用助行器", "轮椅", "卧床"]
DIALECTS = ["武汉话", "普通话", "武汉话", "湖南话"]


def profile(i: int, rng: np.random.Generator) -> dict[str, object]:
    """A distinct, plausible resident: 600 names before one repeats, an address, an age
    between 65 and 95, what a call-taker needs to know."""
    today = date.today()
    neighbour = SURNAMES[(i * 7) % len(SURNAMES)] + "阿姨"
    return {
        "name": SURNAMES[i % len(SURNAMES)] + GIVEN[(i // len(SURNAMES)) % len(GIVEN)],
        "address": f"{STREETS[i % len(STREETS)]} {1 + (i * 37) % 280} 号"
        f" {1 + i % 6} 栋 {1 + (i // 6) % 4} 单元 {1 + i % 18}0{1 + i % 4} 室",
        "birth_date": today.replace(year=today.year - int(rng.integers(65, 96)), day=1),
        "medical_notes": CONDITIONS[i % len(CONDITIONS)],
        "allergies": ALLERGIES[i % len(ALLERGIES)],
        "mobility": MOBILITY[i % len(MOBILITY)],
        "access_notes": ACCESS[i % len(ACCESS)].format(
            code=f"{1000 + i * 53 % 9000}", neighbour=neighbour
        ),
        "language": DIALECTS[i % len(DIALECTS)],
    }


# what each kind of point does, and when (Wuhan: 144 complexes, 321 service points)
KINDS = {
    PointKind.COMPLEX: ([C.EMERGENCY, C.NURSING, C.MEAL, C.BATH, C.ALWAYS_OPEN], None, 4),
    PointKind.STATION: ([C.NURSING, C.MEAL, C.CLEANING, C.ESCORT], "daily 08:00-20:00", 2),
    PointKind.HEALTH_CENTRE: ([C.MEDICAL, C.EMERGENCY], "daily 07:30-21:00", 3),
}


def _district(lat: float, lon: float) -> str:
    return min(DISTRICTS, key=lambda d: (DISTRICTS[d][0] - lat) ** 2 + (DISTRICTS[d][1] - lon) ** 2)


async def seed_demo(
    dsn: str, fleet: WearableFleet, *, complexes: int = 6, stations: int = 20, centres: int = 4
) -> int:
    """Returns how many service points were seeded."""
    rng = np.random.default_rng(2026)
    spread = 0.05 + 0.03 * min(1.0, fleet.n / 5000)  # a city-sized fleet spreads wider
    lat = WUHAN[0] + rng.normal(0, spread, fleet.n)
    lon = WUHAN[1] + rng.normal(0, spread * 1.2, fleet.n)
    residents = [
        ResidentIn(
            id=d.resident_id,
            **profile(i, rng),  # type: ignore[arg-type]
            home_lat=float(lat[i]),
            home_lon=float(lon[i]),
            district=_district(float(lat[i]), float(lon[i])),
            phone=f"133{i:08d}",
            flags=[CareFlag.DEMENTIA] if i % 17 == 0 else [],
            contacts=[
                ContactIn(
                    name=SURNAMES[(i + 3) % len(SURNAMES)] + GIVEN[(i + 11) % len(GIVEN)][0] + "敏",
                    relation=RELATIONS[i % len(RELATIONS)],
                    phone=f"138{i:08d}",
                ),
                ContactIn(
                    name=SURNAMES[(i + 9) % len(SURNAMES)] + "阿姨",
                    relation="邻居",
                    phone=f"137{i:08d}",
                    sms=False,
                ),
            ],
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
    kinds = (
        [PointKind.COMPLEX] * complexes
        + [PointKind.STATION] * stations
        + [PointKind.HEALTH_CENTRE] * centres
    )
    sp_lat = WUHAN[0] + rng.normal(0, spread, len(kinds))
    sp_lon = WUHAN[1] + rng.normal(0, spread * 1.2, len(kinds))
    points, staff = [], []
    for i, kind in enumerate(kinds):
        caps, hours, capacity = KINDS[kind]
        district = _district(float(sp_lat[i]), float(sp_lon[i]))
        points.append(
            ServicePointIn(
                id=f"sp-{i:03d}",
                name=f"{district}{'综合体' if kind is PointKind.COMPLEX else '服务站'} {i + 1}",
                kind=kind,
                lat=float(sp_lat[i]),
                lon=float(sp_lon[i]),
                district=district,
                capabilities=caps,
                hours=WeekHours.parse(hours) if hours else None,
                capacity=capacity,
            )
        )
        shifts = ("daily 08:00-20:00", "daily 20:00-08:00") if hours is None else (hours, hours)
        staff += [
            StaffIn(
                id=f"sp-{i:03d}-{k}",
                point_id=f"sp-{i:03d}",
                name=SURNAMES[(i + k) % len(SURNAMES)] + ("护士" if k == 0 else "师傅"),
                phone=f"139{i:05d}{k:03d}",
                shifts=WeekHours.parse(shift),
            )
            for k, shift in enumerate(shifts)
        ]
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await devices.add_residents(conn=conn, residents=residents)
        await devices.register_devices(conn=conn, devices=wearables + buttons)
        await dispatch.add_service_points(conn=conn, points=points)
        await dispatch.add_staff(conn=conn, staff=staff)
    return len(points)
