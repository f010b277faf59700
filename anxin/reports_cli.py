"""`anxin report coverage|care-beds`: the district's reports as files (HTML to read or
print, CSV to work with)."""

import argparse
import asyncio
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from anxin.arg_types import Commands, printed, share
from anxin.policies import dispatch_policy
from anxin.settings import Settings
from dispatch.choosing import NEEDS, needs_of
from dispatch.network import read_directory
from dispatch.routing import mask
from kernel.errors import Invalid
from reports import care_beds, coverage

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def add_parsers(sub: Commands) -> None:
    rep = sub.add_parser("report", help="the district's reports as HTML and CSV files")
    rep_sub = rep.add_subparsers(dest="report_command", required=True)
    cov = rep_sub.add_parser(
        "coverage", help="travel minutes from every resident to help, hour by hour of the week"
    )
    cov.add_argument(
        "--incident", type=incident_kind, default="sos",
        help="whose needs decide which points can help (default sos: emergency or nursing)",
    )  # fmt: skip
    cov.set_defaults(run=lambda settings, args: printed(asyncio.run(run_coverage(settings, args))))
    beds = rep_sub.add_parser("care-beds", help="home care beds: met the month's standard?")
    beds.add_argument("--month", type=month, required=True, help="YYYY-MM")
    beds.add_argument("--min-online", type=share, default=0.9, help="device online share")
    beds.add_argument("--max-p1-ack-s", type=float, default=60.0)
    beds.add_argument("--min-visits", type=int, default=1)
    beds.add_argument("--subsidy", type=int, default=300, help="yuan per bed and month")
    beds.set_defaults(
        run=lambda settings, args: printed(asyncio.run(run_care_beds(settings, args)))
    )
    for report in (cov, beds):
        report.add_argument("--out", type=Path, default=Path("."), help="folder to write to")
        report.add_argument("--lang", choices=["zh-CN", "en"], default="zh-CN")


def month(text: str) -> str:
    """argparse type for YYYY-MM."""
    if not MONTH.match(text):
        msg = f"expected a month as YYYY-MM, e.g. 2026-11; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return text


def incident_kind(text: str) -> str:
    if text not in NEEDS:
        msg = f"expected one of {', '.join(sorted(NEEDS))}; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return text


def write(out: Path, name: str, text: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    path.write_text(text, encoding="utf-8")
    return path


async def run_coverage(settings: Settings, args: argparse.Namespace) -> str:
    async with await psycopg.AsyncConnection.connect(settings.database_dsn) as conn:
        directory = await read_directory(conn=conn)
        residents, no_home = await coverage.read_residents(conn=conn)
    policy = dispatch_policy(settings)
    needs = needs_of([args.incident])
    cov = coverage.compute(
        directory,
        residents,
        needs=mask(needs),
        travel=policy.travel,
        circle_min=policy.circle_min,
    )
    html = coverage.render(cov, lang=args.lang, needs=[str(n) for n in needs], no_home=no_home)
    written = [
        write(args.out, "coverage.html", html),
        write(args.out, "coverage.csv", coverage.to_csv(cov, args.lang)),
        write(args.out, "coverage-map.svg", coverage.svg_map(cov, args.lang)),
    ]
    outside = int(cov.outside().any(axis=1).sum())
    return (
        f"{len(residents.ids)} residents, {len(directory.ids)} points: {outside} outside the"
        f" {policy.circle_min:.0f}-minute circle at some hour; wrote "
        + ", ".join(str(p) for p in written)
    )


async def run_care_beds(settings: Settings, args: argparse.Namespace) -> str:
    zone = ZoneInfo(settings.time_zone)
    year, mon = (int(p) for p in args.month.split("-"))
    start = datetime(year, mon, 1, tzinfo=zone)
    after = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=zone)
    end = min(after, datetime.now(zone))
    if end <= start:
        msg = f"{args.month} has not begun"
        raise Invalid(msg)
    criteria = care_beds.Criteria(
        min_online_share=args.min_online,
        max_p1_ack_s=args.max_p1_ack_s,
        min_visits=args.min_visits,
        subsidy_yuan=args.subsidy,
    )
    async with await psycopg.AsyncConnection.connect(settings.database_dsn) as conn:
        found = await care_beds.beds(conn=conn, start=start, end=end, criteria=criteria)
    stem = f"care-beds-{args.month}"
    written = [
        write(args.out, f"{stem}.csv", care_beds.to_csv(found, args.lang)),
        write(
            args.out,
            f"{stem}.html",
            care_beds.render(found, month=args.month, criteria=criteria, lang=args.lang),
        ),
    ]
    met = sum(b.met for b in found)
    return f"{len(found)} beds, {met} met the standard; wrote " + ", ".join(map(str, written))
