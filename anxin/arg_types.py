"""argparse types the commands share: a bad value is one line naming what is expected."""

import argparse


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
