"""The `anxin` command. Each domain's commands are declared and run by its own module
(`service_cli`: serve, db, gateway, simulate, demo; `residents_cli`, `devices_cli`,
`access_cli`, `alerts_cli`, `dispatch_cli`, `reports_cli`); this one builds the
parser from them and turns what goes wrong into one line and an exit status."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import psycopg
from pydantic import ValidationError

from anxin import (
    __version__,
    access_cli,
    alerts_cli,
    devices_cli,
    dispatch_cli,
    reports_cli,
    residents_cli,
    service_cli,
)
from anxin.settings import SettingsError, load_settings
from kernel.errors import AnxinError
from kernel.outage import why
from kernel.validation import describe

# in the order `anxin --help` lists them
MODULES = (
    service_cli,
    residents_cli,
    devices_cli,
    access_cli,
    alerts_cli,
    dispatch_cli,
    reports_cli,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anxin", description="Anxin elderly-care backend")
    parser.add_argument("--version", action="version", version=f"anxin {__version__}")
    parser.add_argument("--config", type=Path, help="TOML settings file (env vars win)")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in MODULES:
        module.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    offline = getattr(args, "offline", None)
    if offline is not None:
        return int(offline(args))
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"anxin: {exc}", file=sys.stderr)
        return 2
    try:
        return int(args.run(settings, args))
    except AnxinError as exc:
        print(f"anxin: {exc}", file=sys.stderr)
        return 1
    except ValidationError as exc:  # a value the domain's schema refuses
        print(f"anxin: {describe(exc)}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as exc:
        print(f"anxin: cannot reach the database: {why(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
