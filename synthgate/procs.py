"""Child processes that die whole: each in its own session (process group), killed as a group.

Killing only the direct child leaves its children running: a rollback `shell: true` kills the shell and the
real command goes on; a stage's pytest leaves a browser or a load worker behind. Every child started here is
the leader of its own process group, and on timeout or deadline the whole group is signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from typing import Any

from synthgate import run_context

_live: dict[int, subprocess.Popen[Any]] = {}
_lock = threading.Lock()


# the SYNTHGATE_* variables documented for users (the README, and SYNTHGATE_DEMO_STATE in `synthgate demo --help`:
# the demo's rollback command finds its target through it); every other SYNTHGATE_* is synthgate's own business
USER_SYNTHGATE_ENV = frozenset({
    "SYNTHGATE_BASE_URL", "SYNTHGATE_BASELINE_HEADER", "SYNTHGATE_CA_BUNDLE", "SYNTHGATE_CHROMIUM", "SYNTHGATE_DB",
    "SYNTHGATE_DEMO_STATE", "SYNTHGATE_HOME", "SYNTHGATE_LOCATION", "SYNTHGATE_PROFILE",
})


def user_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a command synthgate runs for the user (rollback, alert hook): allow-listed.

    The user's own variables (everything not named SYNTHGATE_*) and the documented SYNTHGATE_* ones pass; the
    variables synthgate sets for its own processes (the secrets file, the auth session, the cold ledger...) do not.
    `extra` (what the command is explicitly given, e.g. the profile's `env:`) is added last.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHGATE_") or k in USER_SYNTHGATE_ENV}
    env.update(extra or {})
    return env


def spawn(args: Any, **kwargs: Any) -> subprocess.Popen[Any]:
    """Popen in a new session; remembered until reaped, so a deadline can end every live group."""
    proc: subprocess.Popen[Any] = subprocess.Popen(args, start_new_session=True, **kwargs)
    with _lock:
        _live[proc.pid] = proc
    return proc


def kill_group(proc: subprocess.Popen[Any], grace_s: float = 2.0) -> bool:
    """End the child's whole process group: SIGTERM, then SIGKILL after `grace_s`; True if any was alive."""
    alive = _signal(proc.pid, signal.SIGTERM)
    if alive:
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _group_alive(proc.pid):
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.05)
        _signal(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    forget(proc)
    return alive


def reap_group(proc: subprocess.Popen[Any]) -> None:
    """After the leader exited by itself: kill whatever it left behind in its group."""
    _signal(proc.pid, signal.SIGKILL)
    forget(proc)


def forget(proc: subprocess.Popen[Any]) -> None:
    """Stop tracking a child."""
    with _lock:
        _live.pop(proc.pid, None)


def kill_all() -> int:
    """Kill every live group at once (the gate's deadline); the number of groups signalled."""
    with _lock:
        procs = list(_live.values())
        _live.clear()
    for proc in procs:
        _signal(proc.pid, signal.SIGKILL)
    return len(procs)


def _signal(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def die_with_parent() -> None:
    """In a stage process: kill our own process group as soon as the gate that started us is gone (kill -9 too).

    The run context names the process that started us; a thread polls getppid(), which changes when it dies.
    """
    expected = run_context.current().parent_pid
    if expected is None or os.getppid() != expected:
        return

    def watch() -> None:
        while os.getppid() == expected:
            time.sleep(0.5)
        with contextlib.suppress(OSError):
            os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
