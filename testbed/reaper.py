"""A watchdog that stops what `anxin demo` started if the demo dies without doing so.

    python -m testbed.reaper      (started by Reaper.start(); reads its orders on stdin)

Orders, one a line: `kill PID SIGNAL` (send SIGNAL to PID when the demo is gone, then
SIGKILL if it is still there 10 s later), `remove PATH` (delete it afterwards), and
`done` (the demo stopped everything itself: exit, touching nothing). End of input
without `done` means the demo is gone (even by SIGKILL, which closes the pipe): the
orders are carried out. It runs in a session of its own, so the Ctrl-C that stops
the demo does not stop it first.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

GRACE_S = 10.0


class Reaper:
    """The demo's side: start the watchdog, give it orders, and dismiss it."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self._proc = proc

    @classmethod
    def start(cls) -> "Reaper":
        proc = subprocess.Popen(
            [sys.executable, "-m", "testbed.reaper"],
            stdin=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        return cls(proc)

    def kill_on_death(self, pid: int, sig: signal.Signals = signal.SIGTERM) -> None:
        self._order(f"kill {pid} {sig.name}")

    def remove_on_death(self, path: Path) -> None:
        self._order(f"remove {path}")

    def dismiss(self) -> None:
        """Everything was stopped: the watchdog exits without touching anything."""
        self._order("done")
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        self._proc.wait(5)

    def _order(self, line: str) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _carry_out(kills: list[tuple[int, signal.Signals]], paths: list[Path]) -> None:
    for pid, sig in kills:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline and any(_alive(pid) for pid, _ in kills):
        time.sleep(0.1)
    for pid, _ in kills:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the end of its input counts
    kills: list[tuple[int, signal.Signals]] = []
    paths: list[Path] = []
    for line in sys.stdin:
        order, _, rest = line.rstrip("\n").partition(" ")
        if order == "done":
            return
        if order == "kill":
            pid, name = rest.split()
            kills.append((int(pid), signal.Signals[name]))
        elif order == "remove":
            paths.append(Path(rest))
    _carry_out(kills, paths)


if __name__ == "__main__":
    main()
