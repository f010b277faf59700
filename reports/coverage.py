"""How far each resident is from help, hour by hour across the week: the travel
minutes to the nearest point that could take their emergency at that hour (open, an
on-call person on shift, the capability, any capacity). This is how a planner sees
where, and when, the 15-minute circle fails, and where the next point should go.

Each hour of the week is evaluated at its middle; the points eligible at that hour go
into a k-d tree (one per distinct set, most hours share one) and every resident is
one query. Load is left out: this is the network's reach, not a busy evening's.
"""

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

import numpy as np
from numpy.typing import NDArray
from psycopg import AsyncConnection
from scipy.spatial import cKDTree

from dispatch.network import Directory
from dispatch.travel import GreatCircle, km_for_chord, unit_vectors
from reports.pages import Raw, page, table

HOURS = 7 * 24
# any Monday: only the weekday and the time of day matter to opening hours and shifts
MONDAY = datetime(2024, 1, 1)

DAYS = {"zh-CN": "一二三四五六日", "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


@dataclass(frozen=True)
class Residents:
    ids: list[str]
    names: list[str]
    districts: list[str | None]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]


@dataclass(frozen=True)
class Coverage:
    residents: Residents
    # per resident and hour of the week (Monday 00:00 first): minutes to the nearest
    # eligible point; inf when no point anywhere could take it at that hour
    minutes: NDArray[np.float64]
    circle_min: float
    points: Directory

    def outside(self) -> NDArray[np.bool_]:
        return self.minutes > self.circle_min

    def worst(self) -> NDArray[np.float64]:
        return self.minutes.max(axis=1) if len(self.minutes) else np.zeros(0)


def compute(
    directory: Directory,
    residents: Residents,
    *,
    needs: int,
    travel: GreatCircle,
    circle_min: float,
) -> Coverage:
    minutes = np.full((len(residents.ids), HOURS), np.inf)
    where = unit_vectors(residents.lat, residents.lon)
    by_set: dict[bytes, NDArray[np.float64]] = {}
    for hour in range(HOURS):
        net = directory.at(MONDAY + timedelta(hours=hour, minutes=30))
        ok = (
            net.open_now & (net.staff_on_shift > 0) & (net.capacity > 0) & ((net.caps & needs) != 0)
        )
        if not ok.any() or not len(where):
            continue
        key = ok.tobytes()
        if key not in by_set:
            tree = cKDTree(unit_vectors(net.lat[ok], net.lon[ok]))
            chord, _ = tree.query(where, k=1)
            by_set[key] = travel.minutes_for_km(km_for_chord(np.atleast_1d(chord)))
        minutes[:, hour] = by_set[key]
    return Coverage(residents, minutes, circle_min, directory)


def when(hours: NDArray[np.bool_], lang: str) -> str:
    """Hours of the week as runs: '周一 22:00-周二 06:00, 周六 00:00-24:00'."""
    days = DAYS[lang]
    runs: list[tuple[int, int]] = []
    for h in np.flatnonzero(hours).tolist():
        if runs and runs[-1][1] == h:
            runs[-1] = (runs[-1][0], h + 1)
        else:
            runs.append((h, h + 1))
    if runs == [(0, HOURS)]:
        return "全周" if lang == "zh-CN" else "all week"
    prefix = "周" if lang == "zh-CN" else ""

    def at(h: int, end: bool) -> str:
        day, hour = divmod(h, 24)
        if end and hour == 0:
            day, hour = day - 1, 24
        return f"{prefix}{days[day % 7]} {hour:02d}:00"

    return ", ".join(f"{at(a, False)}-{at(b, True)}" for a, b in runs)


def to_csv(cov: Coverage, lang: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["resident_id", "name", "district", "lat", "lon", "median_min", "worst_min",
         "hours_outside", "when_outside"]
    )  # fmt: skip
    outside = cov.outside()
    for i, rid in enumerate(cov.residents.ids):
        row = cov.minutes[i]
        writer.writerow([
            rid, cov.residents.names[i], cov.residents.districts[i] or "",
            f"{cov.residents.lat[i]:.6f}", f"{cov.residents.lon[i]:.6f}",
            _num(float(np.median(row))), _num(float(row.max())),
            int(outside[i].sum()), when(outside[i], lang),
        ])  # fmt: skip
    return out.getvalue()


def _num(minutes: float) -> str:
    return "" if not np.isfinite(minutes) else f"{minutes:.1f}"


# -- the page ------------------------------------------------------------------------

WORDS = {
    "zh-CN": {
        "title": "15分钟养老服务圈覆盖报告",
        "residents": "居民", "points": "服务点", "inside": "服务圈内的居民·小时占比",
        "always": "全周都在服务圈内的居民", "sometimes": "某些时段在服务圈外的居民",
        "map": "地图（按一周中最差时段的分钟数着色）",
        "hist": "到最近可用服务点的分钟数（居民·小时）",
        "list": "服务圈外的居民及时段", "id": "编号", "name": "姓名", "district": "区",
        "worst": "最差（分钟）", "hours": "圈外小时数", "when": "时段", "none": "无可用服务点",
        "circle": "服务圈", "minutes": "分钟", "for": "按需求",
        "no_home": "无住址坐标的居民（未计入）",
    },
    "en": {
        "title": "15-minute service circle: coverage",
        "residents": "residents", "points": "service points",
        "inside": "resident-hours inside the circle",
        "always": "residents inside the circle all week",
        "sometimes": "residents outside it at some hours",
        "map": "Map (coloured by each resident's worst hour of the week)",
        "hist": "Minutes to the nearest eligible point (resident-hours)",
        "list": "Residents outside the circle, and when", "id": "id", "name": "name",
        "district": "district", "worst": "worst (min)", "hours": "hours outside",
        "when": "when", "none": "no eligible point", "circle": "circle", "minutes": "min",
        "for": "needs", "no_home": "residents without home coordinates (left out)",
    },
}  # fmt: skip

GREEN, AMBER, RED, GREY = "#2e7d32", "#f9a825", "#c62828", "#757575"


def colour(minutes: float, circle_min: float) -> str:
    if not np.isfinite(minutes):
        return GREY
    if minutes <= circle_min * 2 / 3:
        return GREEN
    return AMBER if minutes <= circle_min else RED


def render(cov: Coverage, *, lang: str, needs: Sequence[str], no_home: int) -> str:
    w = WORDS[lang]
    outside = cov.outside()
    total = cov.minutes.size
    share = 1 - outside.sum() / total if total else 1.0
    sometimes = int(outside.any(axis=1).sum())
    summary = table(
        ["", ""],
        [
            [w["residents"], len(cov.residents.ids)],
            [w["points"], len(cov.points.ids)],
            [w["for"], ", ".join(needs)],
            [w["inside"], f"{share:.1%}"],
            [w["always"], len(cov.residents.ids) - sometimes],
            [w["sometimes"], sometimes],
            [w["no_home"], no_home],
        ],
    ).replace("<table>", '<table class="summary">', 1)
    order = np.lexsort((-cov.worst(), -outside.sum(axis=1)))
    listed = [
        [
            cov.residents.ids[i], cov.residents.names[i], cov.residents.districts[i] or "",
            _num(float(cov.minutes[i].max())) or w["none"], int(outside[i].sum()),
            when(outside[i], lang),
        ]
        for i in order
        if outside[i].any()
    ]  # fmt: skip
    body = (
        summary
        + f"<h2>{escape(w['map'])}</h2>"
        + svg_map(cov, lang)
        + f"<h2>{escape(w['hist'])}</h2>"
        + histogram(cov, lang)
        + f"<h2>{escape(w['list'])} ({len(listed)})</h2>"
        + table(
            [w["id"], w["name"], w["district"], w["worst"], w["hours"], w["when"]],
            [list(r) for r in listed],
            numeric=frozenset({3, 4}),
        )
    )
    return page(w["title"], body, lang=lang)


def svg_map(cov: Coverage, lang: str, *, width: int = 900) -> str:
    """Residents as dots coloured by their worst hour, points as squares: positions
    projected equirectangularly (fine at a city's scale), no map tiles."""
    w = WORDS[lang]
    lat = np.concatenate([cov.residents.lat, np.array(cov.points.lat, np.float64)])
    lon = np.concatenate([cov.residents.lon, np.array(cov.points.lon, np.float64)])
    if not len(lat):
        return "<p>—</p>"
    squeeze = float(np.cos(np.radians(lat.mean())))
    x0, x1 = float(lon.min()), float(lon.max())
    y0, y1 = float(lat.min()), float(lat.max())
    span_x = max((x1 - x0) * squeeze, 1e-3)
    span_y = max(y1 - y0, 1e-3)
    pad = 20
    scale = (width - 2 * pad) / span_x
    height = int(span_y * scale + 2 * pad) + 40

    def xy(la: float, lo: float) -> tuple[float, float]:
        return pad + (lo - x0) * squeeze * scale, pad + (y1 - la) * scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" font-size="12">'
        f'<rect width="{width}" height="{height}" fill="#fafafa" stroke="#e0e0e0"/>'
    ]
    worst = cov.worst()
    for i in np.argsort(worst):  # the worst drawn last, on top
        x, y = xy(float(cov.residents.lat[i]), float(cov.residents.lon[i]))
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2"'
            f' fill="{colour(float(worst[i]), cov.circle_min)}"/>'
        )
    for la, lo in zip(cov.points.lat, cov.points.lon, strict=True):
        x, y = xy(la, lo)
        parts.append(
            f'<rect x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" fill="#1a237e"'
            ' fill-opacity="0.8"/>'
        )
    c = cov.circle_min
    legend = [
        (GREEN, f"≤ {c * 2 / 3:.0f} {w['minutes']}"),
        (AMBER, f"≤ {c:.0f} {w['minutes']}"),
        (RED, f"> {c:.0f} {w['minutes']}"),
        (GREY, w["none"]),
        ("#1a237e", w["points"]),
    ]
    lx, ly = pad, height - 18
    for fill, text in legend:
        parts.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{fill}"/>')
        parts.append(f'<text x="{lx + 14}" y="{ly}">{escape(text)}</text>')
        lx += 24 + 8 * len(text)
    parts.append("</svg>")
    return Raw("".join(parts))


def histogram(cov: Coverage, lang: str, *, bins: int = 30) -> str:
    """Resident-hours per minute of travel, up to `bins`; the rest, and none, apart."""
    w = WORDS[lang]
    flat = cov.minutes.ravel()
    finite = flat[np.isfinite(flat)]
    counts = np.bincount(np.minimum(finite, bins).astype(np.int64), minlength=bins + 1)
    counts = np.append(counts, int((~np.isfinite(flat)).sum()))
    top = max(int(counts.max()), 1)
    bar, gap, h = 22, 4, 180
    width = (bar + gap) * len(counts) + 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 50}" font-size="10">'
    ]
    for k, n in enumerate(counts.tolist()):
        x = 40 + k * (bar + gap)
        bh = h * n / top
        fill = GREY if k == len(counts) - 1 else colour(float(k) + 0.5, cov.circle_min)
        parts.append(
            f'<rect x="{x}" y="{h - bh + 10:.1f}" width="{bar}" height="{bh:.1f}" fill="{fill}">'
            f"<title>{n}</title></rect>"
        )
        label = str(k) if k < bins else (f"{bins}+" if k == bins else escape(w["none"])[:4])
        parts.append(f'<text x="{x + bar / 2}" y="{h + 24}" text-anchor="middle">{label}</text>')
    cx = 40 + cov.circle_min * (bar + gap)
    parts.append(
        f'<line x1="{cx:.1f}" y1="4" x2="{cx:.1f}" y2="{h + 12}" stroke="#000"'
        ' stroke-dasharray="4 3"/>'
        f'<text x="{cx + 4:.1f}" y="12">{escape(w["circle"])} {cov.circle_min:.0f}'
        f" {escape(w['minutes'])}</text>"
        f'<text x="40" y="{h + 42}">{escape(w["minutes"])} →</text>'
        f'<text x="4" y="16">{top}</text>'
    )
    parts.append("</svg>")
    return Raw("".join(parts))


async def read_residents(*, conn: AsyncConnection) -> tuple[Residents, int]:
    """Residents with a home on record, and how many have none."""
    cur = await conn.execute(
        "SELECT id, name, district, home_lat, home_lon FROM resident_directory ORDER BY id"
    )
    rows = await cur.fetchall()
    placed = [r for r in rows if r[3] is not None and r[4] is not None]
    residents = Residents(
        ids=[r[0] for r in placed],
        names=[r[1] or "" for r in placed],
        districts=[r[2] for r in placed],
        lat=np.array([r[3] for r in placed], np.float64),
        lon=np.array([r[4] for r in placed], np.float64),
    )
    return residents, len(rows) - len(placed)
