"""One machine's advisory file lock, waited for within a bound (the kernel releases it when its holder dies)."""

from __future__ import annotations

import fcntl
import time
from typing import IO, Any

POLL_S = 0.2


def acquire(handle: IO[Any], wait_s: float) -> bool:
    """Take the exclusive lock on an open file, polling for up to wait_s seconds; False if it never came free."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)


def release(handle: IO[Any]) -> None:
    """Give the lock back."""
    fcntl.flock(handle, fcntl.LOCK_UN)
