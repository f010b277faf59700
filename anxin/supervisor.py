"""The one supervisor of every long-running task (ingest writers, detector sweeps,
snapshots, and the workers later domains add).

An SOS service must never look healthy while part of it is stopped:
- a task that raises (anything but cancellation) is logged with its trace, marked
  down, and restarted with exponential backoff;
- `down()` names every task not running, and `/readyz` answers 503 with those names;
- a task that fails more than `max_restarts` times within `window_s` makes the
  supervisor give up: `gave_up` is set and `on_give_up` is called, which stops the
  process with a non-zero exit so systemd or Kubernetes restart it whole.

A task ending without an error counts as a failure too: these tasks are meant to run
until the service stops.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("anxin.supervisor")

TaskFactory = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class _Supervised:
    name: str
    factory: TaskFactory
    running: bool = False
    failures: deque[float] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class Supervisor:
    def __init__(
        self,
        *,
        max_restarts: int = 5,
        window_s: float = 300.0,
        backoff_s: float = 1.0,
        backoff_max_s: float = 30.0,
        on_give_up: Callable[[str], None] | None = None,
    ) -> None:
        self._max_restarts = max_restarts
        self._window_s = window_s
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._on_give_up = on_give_up
        self._tasks: dict[str, _Supervised] = {}
        self.gave_up: str | None = None  # the task that failed too often, if one did

    def start(self, name: str, factory: TaskFactory) -> None:
        """Run `factory()` as the task `name`, again whenever it fails."""
        if name in self._tasks:
            msg = f"a task named {name!r} is supervised already"
            raise ValueError(msg)
        entry = _Supervised(name, factory)
        self._tasks[name] = entry
        entry.task = asyncio.create_task(self._guard(entry), name=name)

    def down(self) -> list[str]:
        """The tasks that are not running now (failed, waiting to restart)."""
        return [t.name for t in self._tasks.values() if not t.running]

    async def stop(self) -> None:
        """Cancel every task and wait for them, in the reverse order of starting."""
        for entry in reversed(self._tasks.values()):
            if entry.task is not None:
                entry.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await entry.task
        self._tasks.clear()

    async def _guard(self, entry: _Supervised) -> None:
        delay = self._backoff_s
        while True:
            entry.running = True
            started = time.monotonic()
            try:
                await entry.factory()
            except asyncio.CancelledError:
                entry.running = False
                raise
            except Exception:
                entry.running = False
                log.exception("task %r failed", entry.name)
            else:
                entry.running = False
                log.error(
                    "task %r ended on its own; it should run until the service stops", entry.name
                )
            if time.monotonic() - started > self._window_s:
                delay = self._backoff_s  # it had run well for a while: start backoff again
            if self._failed_too_often(entry):
                return
            log.warning("restarting task %r in %.1fs", entry.name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max_s)

    def _failed_too_often(self, entry: _Supervised) -> bool:
        now = time.monotonic()
        entry.failures.append(now)
        while entry.failures and entry.failures[0] < now - self._window_s:
            entry.failures.popleft()
        if len(entry.failures) <= self._max_restarts:
            return False
        self.gave_up = entry.name
        log.critical(
            "task %r failed %d times within %.0fs; giving up so the process is restarted",
            entry.name,
            len(entry.failures),
            self._window_s,
        )
        if self._on_give_up is not None:
            self._on_give_up(entry.name)
        return True
