"""What every `anxin` command module shares: argparse types (a bad value is one line
naming what is expected), and the shape of a module's commands. Each *_cli module adds
its commands to the root with `add_parsers(sub)`, each with the function that runs it
(`set_defaults(run=...)`, called as `run(settings, args)` for the exit status)."""

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from anxin.settings import Settings

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Run: TypeAlias = "Callable[[Settings, argparse.Namespace], int]"


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"expected a whole number of at least 1, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def rate(text: str) -> float:
    """A number of at least 0 (a rate; 0 turns the thing off)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        msg = f"expected a number of at least 0, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        msg = f"expected a share from 0 to 1, e.g. 0.9; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        msg = f"expected a TCP port from 0 to 65535, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def printed(text: str) -> int:
    """Print what a command says; it went well."""
    print(text)
    return 0
