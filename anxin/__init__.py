"""Anxin composition root: settings, CLI, app assembly, embedded services."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("anxin")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
