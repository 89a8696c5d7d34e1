"""The state one run owns: what modules kept in globals (the 5xx tally, the cold ledger's memory, the session,
the deadline, the hygiene cache, the transport's listeners), held on a `RunState` instead.

The pattern is pytest's `Stash`: a module declares a typed `Slot` with a factory, and reads its state through the
run it is in (`current().get(SLOT)`), created on first use. The gate runs inside `running(RunState())`; a stage
process (synthgate's pytest plugin) opens its own for its session; a test builds one of its own. Nothing resets a
module for the next run: a new run simply has new state.

Which run is current: the one `running` set in this context (a contextvar), else the one most recently entered in
this process (threads the run starts, which do not inherit contextvars), else the process's own run (a process
that never entered one: a probe, a Locust worker, a plain script).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Slot(Generic[T]):
    """A typed place on a run for one module's state, made by `factory` the first time a run is asked for it."""

    def __init__(self, name: str, factory: Callable[[], T]) -> None:
        self.name = name
        self.factory = factory

    def __repr__(self) -> str:
        return f"Slot({self.name!r})"


class RunState:
    """The state of one run (a gate, a stage process, a test): one value per `Slot`, made on demand."""

    def __init__(self, name: str = "run") -> None:
        self.name = name
        self._lock = threading.RLock()
        self._values: dict[Slot[Any], Any] = {}

    def get(self, slot: Slot[T]) -> T:
        """This run's value of `slot`, made by its factory on first use (thread-safe)."""
        with self._lock:
            if slot not in self._values:
                self._values[slot] = slot.factory()
            return self._values[slot]  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"RunState({self.name!r}, {sorted(s.name for s in self._values)})"


_current: contextvars.ContextVar[RunState | None] = contextvars.ContextVar("synthgate_run", default=None)
_lock = threading.Lock()
_entered: list[RunState] = []  # runs entered in this process, innermost last (what a run's own threads see)
_process: list[RunState] = []  # the process's own run, made on first use when no run was entered


def current() -> RunState:
    """The run this code is part of (see the module's docstring for which one)."""
    run = _current.get()
    if run is not None:
        return run
    with _lock:
        if _entered:
            return _entered[-1]
        if not _process:
            _process.append(RunState("process"))
        return _process[0]


@contextlib.contextmanager
def running(run: RunState) -> Iterator[RunState]:
    """Make `run` the current run for the block (this context, and the threads started meanwhile)."""
    token = _current.set(run)
    with _lock:
        _entered.append(run)
    try:
        yield run
    finally:
        with _lock:
            if run in _entered:
                _entered.reverse()
                _entered.remove(run)  # the innermost entry of this run
                _entered.reverse()
        try:
            _current.reset(token)
        except ValueError:  # left in another context than it was entered in (a hook pair): clear it there
            _current.set(None)


def enter(run: RunState) -> Callable[[], None]:
    """Make `run` current until the returned function is called (for hooks that open and close apart)."""
    block = running(run)
    block.__enter__()
    return lambda: block.__exit__(None, None, None)
