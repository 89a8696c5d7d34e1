"""The demo target's releases: a current and a previous release in a small JSON state file.

`deploy` and `rollback` may run in another process than the server; the server notices the change on
its next request (see `ReleaseWatcher`), so the gate's rollback takes effect without a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypedDict, TypeVar

from synthgate.demo.faults import check_fault

# Healthy releases keep one version across runs, so a run history compares equal releases.
HEALTHY_VERSION = "1.4.0"
FAULTY_VERSION_BASE = "1.4.1"
HISTORY_LIMIT = 50
T = TypeVar("T")


class Release(TypedDict):
    """One release of the demo target: a version and the fault it carries (None when healthy)."""

    version: str
    fault: str | None


class StateError(RuntimeError):
    """The state file is missing or unreadable, or the requested change is impossible."""


def release_for(fault: str | None) -> Release:
    """The release that carries `fault` (the healthy release for None)."""
    fault = check_fault(fault)
    version = HEALTHY_VERSION if fault is None else f"{FAULTY_VERSION_BASE}-{fault}"
    return {"version": version, "fault": fault}


def db_path_for(state_path: Path) -> Path:
    """The SQLite database that lives next to the state file."""
    return state_path.with_name(state_path.stem + ".db")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside `path`, so concurrent deploy/rollback calls serialise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_atomic(path: Path, state: dict[str, Any]) -> None:
    """Write atomically: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(state, out, indent=2)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _load(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        raise StateError(f"no demo state at {path}: start the demo target first") from None
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read demo state {path}: {exc}") from None
    if not isinstance(state, dict) or not isinstance(state.get("current"), dict):
        raise StateError(f"demo state {path} has no current release")
    return state


def _event(action: str, release: Release) -> dict[str, Any]:
    return {"action": action, "version": release["version"], "fault": release["fault"], "at": _now()}


def read_state(path: Path) -> dict[str, Any]:
    """The state file's content: `current`, `previous` (or None) and `history`."""
    return _load(Path(path))


def init_state(path: Path, fault: str | None = None) -> dict[str, Any]:
    """Start fresh: the release carrying `fault` is current, the healthy release previous."""
    path = Path(path)
    current = release_for(fault)
    with locked(path):
        state = {"current": current, "previous": release_for(None), "history": [_event("init", current)]}
        write_atomic(path, state)
    return state


def deploy(path: Path, fault: str | None = None) -> dict[str, Any]:
    """Make the release carrying `fault` current; the current one becomes previous."""
    path = Path(path)
    new = release_for(fault)
    with locked(path):
        state = _load(path)
        state["previous"] = state["current"]
        state["current"] = new
        state["history"] = [*state.get("history", []), _event("deploy", new)][-HISTORY_LIMIT:]
        write_atomic(path, state)
    return state


def rollback(path: Path) -> dict[str, Any]:
    """Make the previous release current again; raise StateError when there is none."""
    path = Path(path)
    with locked(path):
        state = _load(path)
        previous = state.get("previous")
        if not isinstance(previous, dict):
            raise StateError(f"nothing to roll back to: {path} has no previous release")
        state["current"] = previous
        # One step back only: a second rollback must not redeploy the broken release.
        state["previous"] = None
        state["history"] = [*state.get("history", []), _event("rollback", previous)][-HISTORY_LIMIT:]
        write_atomic(path, state)
    return state


class ChangedFile(Generic[T]):
    """A value read from a file, re-read only when the file changed (one stat per call).

    The last good value stays while the file is missing or unreadable (`errors` are what `read` raises then).
    """

    def __init__(self, path: Path, read: Callable[[Path], T], initial: T,
                 errors: tuple[type[Exception], ...]) -> None:
        self.path = Path(path)
        self._read = read
        self._errors = errors
        self._value = initial
        self._key: tuple[int, int, int] | None = None

    def get(self) -> T:
        """The file's value as last read, re-read first when the file changed."""
        try:
            st = os.stat(self.path)
        except OSError:
            return self._value
        # os.replace gives a new inode, so (inode, mtime, size) changes on every write.
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key != self._key:
            try:
                self._value = self._read(self.path)
                self._key = key
            except self._errors:
                pass
        return self._value


def _current_release(path: Path) -> Release:
    current = _load(path)["current"]
    return {"version": str(current["version"]), "fault": check_fault(current.get("fault"))}


class ReleaseWatcher:
    """The current release, re-read only when the state file changes (one stat per request)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file = ChangedFile(self.path, _current_release, release_for(None), (StateError, KeyError, ValueError))

    def current(self) -> Release:
        """The release the state file names now (the last one read if the file is unreadable)."""
        return self._file.get()


def default_state_path(port: int) -> Path:
    """Where `serve` keeps the state of the target on `port` ($SYNTHGATE_DEMO_STATE overrides)."""
    override = os.environ.get("SYNTHGATE_DEMO_STATE")
    if override:
        return Path(override).expanduser()
    # per machine and user, not per home: a port is the machine's, and gates with separate homes (runners
    # simulated on one machine) must reach the same target's releases
    return Path(tempfile.gettempdir()) / f"synthgate-{os.getuid()}" / f"demo-{port}.json"
