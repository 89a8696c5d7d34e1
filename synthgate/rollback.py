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

from synthgate.profile.model import Rollback
from synthgate.redact import redactor
from synthgate.results import RollbackResult, StageResult


def lock_path(profile_name: str, base_url: str) -> Path:
    """One lock file per deployment, shared by every gate on this machine."""
    digest = hashlib.sha256(base_url.encode()).hexdigest()[:12]
    root = Path(os.environ.get("SYNTHGATE_LOCK_DIR", Path.home() / ".cache" / "synthgate" / "locks"))
    root.mkdir(parents=True, exist_ok=True)
    return root / f"rollback-{profile_name}-{digest}.lock"


@contextmanager
def deployment_lock(path: Path, wait_s: float) -> Iterator[bool]:
    """Yields True when this gate holds the lock; False when another gate held it for all of wait_s."""
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                time.sleep(0.2)
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    continue
            else:
                yield False
                return
            # another gate held the lock and released it: it rolled back; this gate only verifies
            fcntl.flock(handle, fcntl.LOCK_UN)
            yield False
            return
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()} {time.time():.0f}\n")
            handle.flush()
            yield True
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
) -> tuple[RollbackResult, StageResult | None]:
    """Roll back at most once under the deployment lock, then verify with a smoke re-run."""
    command = [spec.command] if isinstance(spec.command, str) else list(spec.command)
    result = RollbackResult(triggered=True, command=[redactor(c) for c in command])
    with deployment_lock(lock_path(profile_name, base_url), wait_s=spec.timeout_s) as holder:
        if holder:
            progress(f"rollback: running {' '.join(result.command or [])}")
            code, output, seconds = run_action(spec, extra_env)
            result.exit_code, result.output, result.duration_s = code, output, round(seconds, 3)
            if code != 0:
                result.verified = False
                result.message = (f"rollback command timed out after {spec.timeout_s:.0f} s" if code is None
                                  else f"rollback command exited {code}")
                return result, None
        else:
            result.message = "another gate rolled this deployment back; only verifying"
            progress("rollback: " + result.message)
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
