"""Rollback: take the lock, run the profile's action once with a timeout, then re-verify health."""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from synthgate.profile.model import Rollback
from synthgate.redact import redactor
from synthgate.results import RollbackResult, StageResult


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


@contextmanager
def deployment_lock(path: Path, wait_s: float) -> Iterator[HeldLock | None]:
    """Hold the deployment's lock (waiting up to wait_s for another gate's rollback); None if never free."""
    with open(path, "a+") as handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    yield None
                    return
                time.sleep(0.2)
        try:
            yield HeldLock(handle)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_action(spec: Rollback, extra_env: dict[str, str]) -> tuple[int | None, str, float]:
    """Run the rollback command once: (exit code or None on timeout, redacted output, seconds)."""
    env = {**os.environ, **extra_env, **spec.env}
    # the venv's scripts first, so a profile can name `synthgate` without an activated venv
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    started = time.monotonic()
    try:
        proc = subprocess.run(
            spec.command, shell=spec.shell, env=env, capture_output=True, text=True,
            timeout=spec.timeout_s, stdin=subprocess.DEVNULL, check=False,
        )
        code: int | None = proc.returncode
        output = (proc.stdout + proc.stderr)[-4000:]
    except subprocess.TimeoutExpired as exc:
        code = None
        out = exc.stdout or b""
        output = (out.decode("utf-8", "replace") if isinstance(out, bytes) else out)[-4000:]
        output += f"\n(rollback timed out after {spec.timeout_s:.0f} s and was killed)"
    except OSError as exc:
        code = 127
        output = f"cannot run rollback command: {exc}"
    return code, redactor(output), time.monotonic() - started


def perform(
    spec: Rollback,
    profile_name: str,
    base_url: str,
    extra_env: dict[str, str],
    verify: Callable[[], StageResult],
    progress: Callable[[str], None],
    gate_started: float,
) -> tuple[RollbackResult, StageResult | None]:
    """Roll back at most once under the deployment lock, then verify with a smoke re-run.

    Two gates of one deployment never both roll back: the second waits for the lock, sees that a rollback
    finished after its own run started (its evidence is older than that rollback) and only verifies.
    """
    command = [spec.command] if isinstance(spec.command, str) else list(spec.command)
    result = RollbackResult(triggered=True, command=[redactor(c) for c in command])
    with deployment_lock(lock_path(profile_name, base_url), wait_s=spec.timeout_s + 30) as lock:
        if lock is None:
            result.verified = False
            result.message = "another gate held the rollback lock for too long; not rolled back"
            return result, None
        if lock.last_rollback_at is not None and lock.last_rollback_at >= gate_started:
            result.message = "another gate rolled this deployment back during this run; only verifying"
            progress("rollback: " + result.message)
        else:
            progress(f"rollback: running {' '.join(result.command or [])}")
            code, output, seconds = run_action(spec, extra_env)
            result.exit_code, result.output, result.duration_s = code, output, round(seconds, 3)
            if code != 0:
                result.verified = False
                result.message = (f"rollback command timed out after {spec.timeout_s:.0f} s" if code is None
                                  else f"rollback command exited {code}")
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
