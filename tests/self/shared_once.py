"""Expensive session set-up done once per test run, shared by pytest-xdist's worker processes.

Each worker's session fixture takes an exclusive lock on a folder under the run's base temporary directory; the
first one builds into it and leaves a marker, the others wait for the lock and reuse what was built.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthgate import filelock

WAIT_S = 900  # the longest a worker waits for another to build (a wheel and its virtualenv take about a minute)


@contextlib.contextmanager
def shared_dir(name: str, tmp_path_factory: pytest.TempPathFactory, worker_id: str
               ) -> Iterator[tuple[Path, bool]]:
    """Yield (folder, already built) under the lock; a clean exit marks the folder built for the other workers."""
    base = tmp_path_factory.getbasetemp()
    root = base if worker_id == "master" else base.parent  # xdist: pytest-N/popen-gwX -> pytest-N, one per run
    folder = root / f"shared-{name}"
    folder.mkdir(exist_ok=True)
    marker = folder / ".built"
    with open(root / f"shared-{name}.lock", "w") as lock:
        assert filelock.acquire(lock, WAIT_S), f"shared {name} was still being built after {WAIT_S} s"
        yield folder, marker.exists()
        marker.touch()
