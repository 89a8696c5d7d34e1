"""Rollback: take the lock, run the profile's action once with a timeout, then re-verify health."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from synthgate import filelock, procs
from synthgate.profile.model import Rollback
from synthgate.redact import redactor
from synthgate.results import RestoreRun, RollbackResult, SnapshotRun, StageResult
from synthgate.store import BaseStore, Store, is_postgres, resolve_db


def lock_path(profile_name: str, base_url: str) -> Path:
    """One lock file per deployment, shared by every gate on this machine."""
    digest = hashlib.sha256(base_url.encode()).hexdigest()[:12]
    root = Path(os.environ.get("SYNTHGATE_LOCK_DIR", Path.home() / ".cache" / "synthgate" / "locks"))
    root.mkdir(parents=True, exist_ok=True)
    return root / f"rollback-{profile_name}-{digest}.lock"


class HeldLock:
    """The deployment's rollback lock, held: when its last rollback finished, and a way to record this one."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle
        handle.seek(0)
        fields = handle.read().split()
        self.last_rollback_at = float(fields[1]) if len(fields) >= 2 else None

    def mark_done(self) -> None:
        """Record that a rollback of this deployment finished now."""
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(f"{os.getpid()} {time.time():.3f}\n")
        self._handle.flush()


class SharedHeldLock:
    """The deployment's rollback lock held in a shared database (every machine that uses it), with its records.

    Times come from the database's clock and are turned into this machine's clock, so a gate compares the last
    rollback with its own start even when the machines' clocks disagree.
    """

    def __init__(self, store: BaseStore, deployment: str, profile_name: str, base_url: str) -> None:
        self._store, self._deployment = store, deployment
        self._profile_name, self._base_url = profile_name, base_url
        skew = store.now() - time.time()
        last = store.last_rollback_finished(deployment)
        self.last_rollback_at = None if last is None else last - skew
        self._record: int | None = None

    def mark_started(self) -> None:
        """Record that this gate starts the rollback (who, from which machine)."""
        self._record = self._store.rollback_started(self._deployment, self._profile_name, self._base_url)

    def mark_done(self, exit_code: int | None = 0) -> None:
        """Record how this gate's rollback ended."""
        if self._record is None:
            self.mark_started()
        assert self._record is not None
        self._store.rollback_finished(self._record, exit_code)


def deployment_key(profile_name: str, base_url: str) -> str:
    """What names one deployment in the shared database: its profile and base URL."""
    return f"{profile_name} {base_url}"


@contextmanager
def shared_lock(db: str | Path | None, profile_name: str, base_url: str,
                wait_s: float) -> Iterator[HeldLock | SharedHeldLock | None]:
    """The rollback lock: PostgreSQL's advisory lock (every machine) with --db postgresql://, else the file lock
    of this machine. None when another gate held it for longer than wait_s."""
    target = resolve_db(db)
    if not is_postgres(target):
        with deployment_lock(lock_path(profile_name, base_url), wait_s) as held:
            yield held
        return
    deployment = deployment_key(profile_name, base_url)
    with Store(target) as store, store.exclusive(f"rollback:{deployment}", wait_s) as got:
        yield SharedHeldLock(store, deployment, profile_name, base_url) if got else None


@contextmanager
def deployment_lock(path: Path, wait_s: float) -> Iterator[HeldLock | None]:
    """Hold the deployment's lock (waiting up to wait_s for another gate's rollback); None if never free."""
    with open(path, "a+") as handle:
        if not filelock.acquire(handle, wait_s):
            yield None
            return
        try:
            yield HeldLock(handle)
        finally:
            filelock.release(handle)


def run_action(spec: Rollback, extra_env: dict[str, str]) -> tuple[int | None, str, float]:
    """Run the rollback command once: (exit code or None on timeout, redacted output, seconds)."""
    env = procs.user_env({**extra_env, **spec.env})  # never the gate's internals (secrets file, auth session...)
    # the venv's scripts first, so a profile can name `synthgate` without an activated venv
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    started = time.monotonic()
    code: int | None
    # its own session: on timeout the whole group dies (with shell: true, the shell *and* the real command);
    # output to a file, not a pipe, so a grandchild that keeps the pipe open cannot hold the gate
    with tempfile.TemporaryFile() as out:
        try:
            proc = procs.spawn(spec.command, shell=spec.shell, env=env, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
        except OSError as exc:
            return 127, redactor(f"cannot run rollback command: {exc}"), time.monotonic() - started
        try:
            code = proc.wait(timeout=spec.timeout_s)
            procs.reap_group(proc)  # what it left running in the background goes too
            note = ""
        except subprocess.TimeoutExpired:
            code = None
            procs.kill_group(proc)
            note = (f"\n(rollback timed out after {spec.timeout_s:.0f} s: its whole process group "
                    f"(pgid {proc.pid}) was killed)")
        except BaseException:  # a signal (synthgate rollout's SIGTERM): the command must not finish after us
            procs.kill_group(proc)
            raise
        out.seek(0, os.SEEK_END)
        out.seek(max(0, out.tell() - 8000))
        output = out.read().decode("utf-8", "replace")[-4000:] + note
    return code, redactor(output), time.monotonic() - started


def perform(
    spec: Rollback,
    profile_name: str,
    base_url: str,
    extra_env: dict[str, str],
    verify: Callable[[], StageResult],
    progress: Callable[[str], None],
    gate_started: float,
    db: str | Path | None = None,
) -> tuple[RollbackResult, StageResult | None]:
    """Roll back at most once under the deployment lock, then verify with a smoke re-run.

    Two gates of one deployment never both roll back: the second waits for the lock, sees that a rollback
    finished after its own run started (its evidence is older than that rollback) and only verifies. With a
    PostgreSQL --db (or SYNTHGATE_DB) that holds for gates on different machines too.
    """
    command = [spec.command] if isinstance(spec.command, str) else list(spec.command)
    result = RollbackResult(triggered=True, command=[redactor(c) for c in command])
    with shared_lock(db, profile_name, base_url, wait_s=spec.timeout_s + 30) as lock:
        if lock is None:
            result.verified = False
            result.message = "another gate held the rollback lock for too long; not rolled back"
            return result, None
        if lock.last_rollback_at is not None and lock.last_rollback_at >= gate_started:
            result.message = "another gate rolled this deployment back during this run; only verifying"
            progress("rollback: " + result.message)
        else:
            progress(f"rollback: running {' '.join(result.command or [])}")
            if isinstance(lock, SharedHeldLock):
                lock.mark_started()
            code, output, seconds = run_action(spec, extra_env)
            result.exit_code, result.output, result.duration_s = code, output, round(seconds, 3)
            if code != 0:
                result.verified = False
                result.message = (f"rollback command timed out after {spec.timeout_s:.0f} s" if code is None
                                  else f"rollback command exited {code}")
                if isinstance(lock, SharedHeldLock):
                    lock.mark_done(code)
                return result, None
            lock.mark_done()
    if not spec.verify:
        result.message = (result.message + "; not verified (verify: false)").lstrip("; ")
        return result, None
    if spec.settle_s:
        time.sleep(spec.settle_s)
    progress("rollback: verifying health with the smoke checks")
    stage = verify()
    result.verified = stage.status == "passed"
    failed = ", ".join(c.id for c in stage.failed_checks)
    verdict = "rollback verified: smoke passes again" if result.verified else f"still failing after rollback: {failed}"
    result.message = "; ".join(m for m in (result.message, verdict) if m)
    return result, stage


# -- data-aware rollback: a snapshot before the release, a restore when it is rolled back ------------------------

SNAPSHOT_OUTPUT_LIMIT = 64 * 1024  # what is kept of the snapshot command's standard output


def _run_capture(command: list[str], spec: Rollback, extra_env: dict[str, str]) -> tuple[int | None, str, str, float]:
    """Run one command bounded by the spec's timeout: (exit code or None, stdout, stderr tail, seconds)."""
    env = procs.user_env({**extra_env, **spec.env})  # never the gate's internals, like the rollback command
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errs:
        try:
            proc = procs.spawn(command, env=env, stdout=out, stderr=errs, stdin=subprocess.DEVNULL)
        except OSError as exc:
            return 127, "", f"cannot run {command[0]}: {exc}", time.monotonic() - started
        try:
            code: int | None = proc.wait(timeout=spec.timeout_s)
            procs.reap_group(proc)
        except subprocess.TimeoutExpired:
            code = None
            procs.kill_group(proc)
        out.seek(0)
        stdout = out.read(SNAPSHOT_OUTPUT_LIMIT).decode("utf-8", "replace")
        errs.seek(0, os.SEEK_END)
        errs.seek(max(0, errs.tell() - 4000))
        stderr = errs.read().decode("utf-8", "replace")
    return code, stdout, stderr, time.monotonic() - started


def take_snapshot(spec: Rollback, extra_env: dict[str, str]) -> SnapshotRun:
    """Run rollback.snapshot once (before the release is judged) and keep its output for the restore (raw: the
    reports' copy is redacted by the caller)."""
    assert spec.snapshot is not None
    code, stdout, stderr, seconds = _run_capture(list(spec.snapshot), spec, extra_env)
    return SnapshotRun(command=[redactor(c) for c in spec.snapshot], exit_code=code, output=stdout.strip(),
                       stderr=redactor(stderr.strip()[-2000:]), duration_s=round(seconds, 3),
                       ok=code == 0 and bool(stdout.strip()))


def fill_snapshot(template: list[str], snapshot: str) -> list[str]:
    """The restore command: {snapshot} is the snapshot's output; {snapshot.FIELD} a field of its JSON output."""

    def field(match: re.Match[str]) -> str:
        try:
            node: object = json.loads(snapshot)
        except ValueError:
            return match.group(0)
        for part in match.group(1).split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return match.group(0) if node is None else str(node)

    out = []
    for arg in template:
        arg = re.sub(r"\{snapshot\.([A-Za-z0-9_.]+)\}", field, arg)
        out.append(arg.replace("{snapshot}", snapshot))
    return out


def restore_data(spec: Rollback, snapshot: SnapshotRun | None, profile_name: str, base_url: str,
                 extra_env: dict[str, str], progress: Callable[[str], None],
                 db: str | Path | None = None) -> RestoreRun:
    """Run rollback.restore once with the snapshot, under the deployment's rollback lock; what happened."""
    assert spec.restore is not None
    if snapshot is None or not snapshot.ok:
        return RestoreRun(ran=False, message="no usable snapshot was taken: the data was not restored")
    command = fill_snapshot(list(spec.restore), snapshot.output)
    with shared_lock(db, profile_name, base_url, wait_s=spec.timeout_s + 30) as lock:
        if lock is None:
            return RestoreRun(ran=False, message="another gate held the rollback lock for too long; data not restored")
        progress(f"rollback: restoring data: {redactor(' '.join(command))}")
        code, stdout, stderr, seconds = _run_capture(command, spec, extra_env)
    ok = code == 0
    return RestoreRun(ran=True, command=[redactor(c) for c in command], exit_code=code, ok=ok,
                      duration_s=round(seconds, 3), output=redactor((stdout + stderr).strip()[-2000:]),
                      message="data restored from the snapshot" if ok else
                      (f"restore timed out after {spec.timeout_s:.0f} s" if code is None else f"restore exited {code}"))
