"""What belongs to a run, not to the process: the runs in progress in this process, innermost last.
pytest may run the suite several times in one process (pytester, an in-process rerun), one inside
another; each run owns its object (its secrets, its release cache lines and holds) and keeps it in its
`config.stash`; a module reaches the run in progress through `Runs.current()`.  No `typing` at run
time: the simulator imports this (through redact) on every `security` call."""
from __future__ import annotations

import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class Runs:
    """One kind of per-run object: the process's own (outside any run) and those of the runs in progress."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.process = make()
        self._runs: list[Any] = []
        self._lock = threading.Lock()

    def begin(self, run: Any) -> None:
        """A run starts: `current()` is its object until `end`."""
        with self._lock:
            self._runs.append(run)

    def end(self, run: Any) -> None:
        with self._lock:
            if run in self._runs:
                self._runs.remove(run)

    def current(self) -> Any:
        """The innermost run's, or the process's outside any run."""
        with self._lock:
            return self._runs[-1] if self._runs else self.process

    def every(self) -> list[Any]:
        """The process's and every run's in progress."""
        with self._lock:
            return [self.process, *self._runs]
