"""One run context: the file through which a run hands its child processes everything they need.

A gate writes `reports/.work/run-context.json` (mode 0600) and passes its path as the one variable
`SYNTHGATE_RUN_CONTEXT` to every child (stage pytest, Locust master and workers), which inherit it. The file
holds where the shared state lives (the file of learned secrets, the auth session, the cold-start ledger) and
the values a child needs (the pid of the process that started it, the load's user class); the children read it,
only the process that opened it writes it. A process that needs to hand something to its children without a
gate (`synthgate probe`, `synthgate load`, a test) gets a context in a private temporary folder on first write.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

CONTEXT_ENV = "SYNTHGATE_RUN_CONTEXT"
FILE_NAME = "run-context.json"


class RunContext(BaseModel):
    """What a run's child processes need from it (every field optional: a child without a gate has none)."""

    model_config = ConfigDict(extra="forbid")

    parent_pid: int | None = None  # the process that starts the children: they die with it (procs.die_with_parent)
    secrets_file: str | None = None  # the shared file of learned secrets (synthgate.redact)
    auth_session: str | None = None  # the login's session file (synthgate.session)
    cold_ledger: str | None = None  # the cold-start ledger (synthgate.checks.cold), while it records
    cold_origin: str | None = None  # the origin whose first requests it records
    seen_ledger: str | None = None  # the seen-answers ledger of a gate run (synthgate.checks.seen), while it records
    seen_origin: str | None = None  # the origin whose answers it records
    load_user_class: str | None = None  # the Locust user class the load stage asked for (synthgate.loadgen)
    ca_bundle: str | None = None  # the embedded demo's CA, while it serves HTTPS (synthgate.demo.server)


_lock = threading.RLock()
_cache: dict[str, tuple[tuple[int, int, int], RunContext]] = {}
# contexts this process opened, innermost last: (file, the variable's value before, a temporary folder to remove)
_opened: list[tuple[Path, str | None, Path | None]] = []


def path() -> Path | None:
    """The file of this process's run context, if it has one (its own or its parent's)."""
    value = os.environ.get(CONTEXT_ENV)
    return Path(value) if value else None


def current() -> RunContext:
    """The run context as its file says now (an empty one when there is none, or it is gone)."""
    file = path()
    if file is None:
        return RunContext()
    try:
        stat = file.stat()
    except OSError:
        return RunContext()
    key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    with _lock:
        cached = _cache.get(str(file))
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            context = RunContext.model_validate_json(file.read_bytes())
        except (OSError, ValidationError):
            context = RunContext()
        _cache[str(file)] = (key, context)
        return context


def open_context(folder: Path) -> Path:
    """Start a run context in `folder` (the gate: its reports' `.work/`); a nested gate keeps sharing secrets."""
    with _lock:
        return _open(Path(folder), None)


def _open(folder: Path, temporary: Path | None) -> Path:
    inherited = current()
    folder.mkdir(parents=True, exist_ok=True)
    file = folder.resolve() / FILE_NAME
    _opened.append((file, os.environ.get(CONTEXT_ENV), temporary))
    # the file of learned secrets is the redactor's, which a nested gate keeps sharing with its parent
    _write(file, RunContext(parent_pid=os.getpid(), secrets_file=inherited.secrets_file))
    os.environ[CONTEXT_ENV] = str(file)
    return file


def close_context(file: Path) -> None:
    """End the run context opened at `file`: delete it, and give the enclosing one (if any) back to the process."""
    with _lock:
        for n in range(len(_opened) - 1, -1, -1):
            if _opened[n][0] == file:
                _, previous, temporary = _opened.pop(n)
                break
        else:
            return
        if os.environ.get(CONTEXT_ENV) == str(file):
            if previous is None:
                os.environ.pop(CONTEXT_ENV, None)
            else:
                os.environ[CONTEXT_ENV] = previous
        file.unlink(missing_ok=True)
        _cache.pop(str(file), None)
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.rmdir()


def update(**fields: object) -> RunContext:
    """Set fields of this process's own run context (a temporary one is made when it has none) for its children."""
    with _lock:
        mine = _opened[-1][0] if _opened and os.environ.get(CONTEXT_ENV) == str(_opened[-1][0]) else None
        if mine is None:
            folder = Path(tempfile.mkdtemp(prefix="synthgate-run-"))  # 0700
            mine = _open(folder, folder)
            atexit.register(close_context, mine)
        context = RunContext(**{**current().model_dump(), **fields})  # a misspelt field fails here, not in a child
        _write(mine, context)
        return context


def withdraw(name: str, value: str) -> None:
    """`value` is gone (a deleted file): clear field `name` wherever it holds it in the contexts this process opened.

    A nested context inherits the secrets file; when it is deleted, the enclosing one must not keep naming it."""
    with _lock:
        for file, _previous, _temporary in _opened:
            context = current() if path() == file else _read(file)
            if getattr(context, name) == value:
                _write(file, context.model_copy(update={name: None}))


def _read(file: Path) -> RunContext:
    try:
        return RunContext.model_validate_json(file.read_bytes())
    except (OSError, ValidationError):
        return RunContext()


def own() -> Path:
    """This process's own run context (made in a temporary folder when it has none): before it starts a child."""
    update()
    file = path()
    assert file is not None
    return file


def _write(file: Path, context: RunContext) -> None:
    """Replace the file at once (a child never reads half of it), readable by this user only."""
    fresh = file.with_name(f".{file.name}.{os.getpid()}.{threading.get_ident()}")
    fresh.unlink(missing_ok=True)
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(context.model_dump_json(exclude_none=True))
    os.replace(fresh, file)
    _cache.pop(str(file), None)
