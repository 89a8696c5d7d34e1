"""Running a stage's pytest suite in a child process and reading back one result line per check.

A child process keeps each stage's imports (Playwright, Hypothesis) and any crash out of the gate's process,
and lets the same suite run unchanged under plain `pytest`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from synthgate import procs, run_context
from synthgate.accept import Acceptances
from synthgate.bundled import suites_root
from synthgate.redact import redactor
from synthgate.results import TOOL_ERROR, CheckResult, StageResult
from synthgate.stages import user_checks
from synthgate.stages.base import StageContext

NO_TESTS_COLLECTED = 5  # pytest's exit code when it found no test at all
# The plugins each bundled suite uses besides synthgate's own. A child that runs only bundled checks loads just
# these: autoloading every installed pytest plugin (Schemathesis, Locust, xdist, ...) costs ~3 s of CPU per child.
# With the team's own checks in the run, their installed plugins load as usual. The e2e suite gets --base-url from
# pytest-playwright; the others from a plugin that only declares the option.
BASE_URL_OPTION = "synthgate.stages.base_url_option"
BUNDLED_PLUGINS = {"smoke": (BASE_URL_OPTION,), "e2e": ("pytest_playwright.pytest_playwright",),
                   "fuzz": (BASE_URL_OPTION, "_hypothesis_pytestplugin"), "load": (BASE_URL_OPTION,)}
SUITES_DIR = suites_root()  # inside the package (wheel), or the checkout's tests/ (editable install)


def suite_dir(stage: str) -> Path:
    """The pytest suite of a stage (SYNTHGATE_SUITES overrides the tests/ folder)."""
    return Path(os.environ.get("SYNTHGATE_SUITES") or SUITES_DIR) / stage  # set but empty: the bundled ones


def run_suite(ctx: StageContext, stage: str, timeout_s: float, extra_args: list[str] | None = None,
              planned: list[str] | None = None) -> StageResult:
    """Run tests/<stage> against the target and turn its result lines into a StageResult.

    The child runs in its own process group; at the stage's budget, or at the gate's deadline if that comes
    first, the whole group is killed and each planned check without a result is marked timed out.
    """
    started = time.monotonic()
    limit_s, why = timeout_s, "its time budget"
    if ctx.deadline is not None and ctx.deadline - started < timeout_s:
        limit_s, why = max(1.0, ctx.deadline - started), "the gate's deadline (--deadline)"
    folder = suite_dir(stage)
    tag = f"{stage}-{ctx.label}" if ctx.label else stage
    # the child runs in the suites' root, not the caller's working directory: its paths must be absolute
    reports_dir = ctx.reports_dir.resolve()
    results_file = reports_dir / ".work" / f"{tag}.jsonl"
    log_file = reports_dir / "logs" / f"{tag}.log"
    results_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.unlink(missing_ok=True)
    if not folder.is_dir():
        return _crashed(stage, f"the {stage} suite is missing: {folder} (set SYNTHGATE_SUITES)", started)
    mine = user_checks.dirs(ctx, stage)  # the team's own checks beside the profile join this child
    args = [
        sys.executable, "-m", "pytest", str(folder), *map(str, mine),
        "--profile", str(ctx.profile_path.resolve()),
        "--base-url", ctx.base_url,
        "--synthgate-results", str(results_file),
        "--synthgate-reports", str(reports_dir),
        "--synthgate-options", ctx.options.to_json(),
        "-p", "no:cacheprovider", "-q", "-rN", "--color=no",
        "--rootdir", str(folder.parent.parent),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if not mine:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        for plugin in ("synthgate.plugin", *BUNDLED_PLUGINS.get(stage, ("pytest_playwright.pytest_playwright",))):
            args += ["-p", plugin]
    if not ctx.label:  # the verification after rollback does not add to the Allure results
        args += [*(["-p", "allure_pytest.plugin"] if not mine else []), "--alluredir",
                 str(reports_dir / "allure-results")]
    args += extra_args or []
    args += user_checks.args(ctx, mine)
    redactor.share()  # before the child's env is made: what it learns (cookies, saved values) reaches our writers
    run_context.own()  # the child finds in it what it needs from this process (its pid: procs.die_with_parent)
    with open(log_file, "w", encoding="utf-8") as log:
        proc = procs.spawn(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                           cwd=str(folder.parent.parent), stdin=subprocess.DEVNULL)
        # a thread copies the child's output to the log, so the loop below can watch progress and the clock
        copier = threading.Thread(target=_copy_redacted, args=(proc.stdout, log), daemon=True)
        copier.start()
        seen = 0
        deadline = time.monotonic() + limit_s
        timed_out = False
        try:
            while proc.poll() is None:
                seen = _progress(ctx, results_file, seen)
                if time.monotonic() > deadline:
                    timed_out = True
                    break
                time.sleep(0.1)
        finally:  # the budget, the deadline, or an interrupt of the gate: the whole group goes
            if proc.poll() is None:
                procs.kill_group(proc)
            else:
                procs.reap_group(proc)  # anything the suite left behind (a browser, a worker)
        proc.wait()
        copier.join(timeout=5)
        _progress(ctx, results_file, seen)
    checks = read_results(results_file)
    duration = time.monotonic() - started
    if timed_out:
        checks += timed_out_checks(stage, checks, planned or [], limit_s, why, f"logs/{tag}.log")
    elif proc.returncode == NO_TESTS_COLLECTED and not checks:
        return StageResult.skipped(stage, f"the profile gives the {stage} stage no check to run")
    elif proc.returncode not in (0, 1):
        # pytest itself broke (internal error, collection error, a conftest that does not import, an interrupt):
        # a tool error of synthgate or of the team's test code, not evidence against the deployment
        tail = _tail(log_file)
        checks.append(CheckResult(id=f"{stage}.suite", status="failed", kind=TOOL_ERROR,
                                  message=f"the {stage} suite could not run (pytest exit {proc.returncode}; see "
                                          f"logs/{tag}.log): {tail}"))
    return StageResult.from_checks(stage, checks, duration)


def timed_out_checks(stage: str, done: list[CheckResult], planned: list[str], limit_s: float, why: str,
                     log: str) -> list[CheckResult]:
    """The stage's time-limit check and one timed-out check per planned check without a result.

    The gate runs stages only once the target answered its preflight, so a check cut off by the clock is
    evidence (failed), unless every check that did finish found the target unreachable (inconclusive).
    """
    finished = {c.id for c in done}
    unreachable = bool(done) and all(c.kind == "unreachable" for c in done)
    kind: Any = "unreachable" if unreachable else "error"
    message = (f"the {stage} stage did not finish within {limit_s:.0f} s ({why}): its process group was killed; "
               f"see {log}")
    out = [CheckResult(id=f"{stage}.time-limit", status="failed", kind=kind, message=message)]
    for check_id in planned:
        if check_id not in finished:
            out.append(CheckResult(id=check_id, status="failed", kind=kind,
                                   message=f"timed out: no result before {why} ended the {stage} stage"))
    return out


def _copy_redacted(source: IO[str] | None, sink: IO[str]) -> None:
    if source is None:
        return
    for line in source:
        sink.write(redactor(line))
        sink.flush()


def read_results(path: Path) -> list[CheckResult]:
    """The result lines a suite wrote (a half-written last line is ignored); a line that is JSON but not a
    `CheckResult` (a misspelled or unknown key) is a tool error naming what did not match, never dropped."""
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            out.append(CheckResult.from_line(line))
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                continue  # not JSON: the line the child is still writing
            out.append(CheckResult(id=f"{path.stem}.result-line-{n}", status="failed", kind=TOOL_ERROR,
                                   message=redactor(f"result line {n} of {path.name} is no synthgate result: "
                                                    f"{_errors(exc)}")))
    return out


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors())[:1000]


def _progress(ctx: StageContext, path: Path, seen: int) -> int:
    results = read_results(path)
    for result in results[seen:]:
        if result.status == "failed" and ctx.profile.accept:  # as the gate will judge it (these are printed only)
            Acceptances(ctx.profile.accept).judge(result)
        mark = console_mark(result)
        flaky = " (flaky)" if result.flaky else ""
        ctx.progress(f"  {mark:4} {result.id}{flaky}  {result.duration_ms:.0f} ms"
                     + (f"  {result.message[:120]}" if result.status in ("failed", "accepted") else ""))
    return len(results)


def console_mark(result: CheckResult) -> str:
    """How the console marks a check: ok, warn (passed with findings set to warn), FAIL, ERROR (a tool error),
    skip, accepted."""
    if result.status == "passed":
        return "warn" if result.warnings or result.message.startswith("warning: ") else "ok"
    if result.status == "failed":
        return "ERROR" if result.is_tool_error else "FAIL"
    return {"skipped": "skip", "accepted": "accepted"}.get(result.status, result.status)


def _tail(path: Path, lines: int = 12) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return " | ".join(text[-lines:])[-1500:]


def _crashed(stage: str, message: str, started: float) -> StageResult:
    check = CheckResult(id=f"{stage}.suite", status="failed", kind=TOOL_ERROR, message=message)
    return StageResult.from_checks(stage, [check], time.monotonic() - started)


def run_user_checks(ctx: StageContext, stage: str, timeout_s: float,
                    extra_args: list[str] | None = None) -> list[CheckResult]:
    """The user's checks of a stage that has no bundled pytest suite of its own (load): their results, or []."""
    if not user_checks.dirs(ctx, stage):
        return []
    return list(run_suite(ctx, stage, timeout_s, extra_args=extra_args).checks)
