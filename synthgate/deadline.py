"""One deadline for the whole gate: stages end before it, and the reports are written before it, always.

The deadline is `--deadline SECONDS`, or by default the sum of the stages' own budgets plus a margin. Stages
get `deadline - reserve` (their process groups are killed there); the reserve is the time to write every
report. If the gate is still busy at the very end (something not bounded by a stage), a watchdog thread writes
the reports of what is known, marks the run timed out and ends the process with the verdict's exit code.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from synthgate import procs, reports, run_state
from synthgate.checks import registry
from synthgate.e2e.plan import stage_budget_s as e2e_stage_budget_s
from synthgate.profile import Profile, ProfileError
from synthgate.redact import redactor
from synthgate.results import EXIT_CODES, CheckResult, StageResult, decide
from synthgate.scrub import scrub_reports
from synthgate.stage_options import StageOptions

MARGIN_S = 30.0  # start-up, preflight, baseline and reports on top of the stages' budgets
SMOKE_START_S = 60.0  # the smoke suite's child pytest: start-up and collection
E2E_START_S = 45.0  # the e2e suite's child pytest: start-up, the browser's launch and close
FUZZ_GRACE_S = 60.0  # the fuzz child's start (pytest, Hypothesis, Schemathesis, the OpenAPI document) and shrinking
LOAD_GRACE_S = 60.0  # Locust's start-up, workers' connection, final reports
PROBE_MARGIN_S = 5.0  # a probe run's bookkeeping on top of its check's budget


class Deadline:
    """A point in time.monotonic(), with the share kept back to write the reports."""

    def __init__(self, total_s: float) -> None:
        self.total_s = total_s
        # from the start of the process, not of the gate: interpreter start-up and imports count too
        self.started = time.monotonic() - process_age_s()
        self.at = self.started + total_s
        # writing every report takes ~1 s; keep more back when the deadline allows it
        self.reserve_s = min(10.0, max(3.0, total_s * 0.15))

    def remaining(self) -> float:
        """Seconds until the deadline."""
        return self.at - time.monotonic()

    @property
    def work_until(self) -> float:
        """When stages (and rollback) must have ended: the deadline minus the reserve for reports."""
        return self.at - self.reserve_s

    def work_left(self) -> float:
        """Seconds left for checks before the reserve."""
        return self.work_until - time.monotonic()


def process_age_s() -> float:
    """Seconds since this process started (Linux /proc; 0 elsewhere), at most 60."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # starttime, in clock ticks after boot
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return min(60.0, max(0.0, uptime - started))


def attempts_budget_s(timeout_s: float, retries: int, backoff_s: float, requests: int = 1) -> float:
    """The longest a retried check can take with every read bounded: each of its requests at the timeout on every
    attempt, plus the backoff between attempts (as synthgate.checks.outcome.run_with_retries sleeps it).

    The one budget formula: `check_budget_s`, `stage_budget_s` and `default_deadline_s` are built from it."""
    return timeout_s * max(1, requests) * (retries + 1) + backoff_s * (2 ** retries - 1)


def check_budget_s(profile: Profile, planned: registry.Planned) -> float:
    """The longest one planned check (synthgate.checks.registry) can take: its kind's cost at the profile's timeout."""
    d = profile.defaults
    cost = planned.kind.cost(profile, planned.check)
    return attempts_budget_s(d.timeout_s, cost.retries, d.backoff_s, cost.requests)


def probe_deadline_s(profile: Profile, planned: registry.Planned) -> float:
    """The most one probe run of a check may take before it is reported timed out: its budget and a margin."""
    return check_budget_s(profile, planned) + PROBE_MARGIN_S


def stage_budget_s(profile: Profile, stage: str, base_url: str | None = None,
                   options: StageOptions | None = None) -> float:
    """The longest a stage may run: the stage's own limit, and its share of the gate's default deadline.

    smoke: every check it may run (synthgate.checks.registry) at its budget, plus the suite's start-up; e2e: every
    attempt of every journey at its budget, `e2e.parallel` at a time, plus the browser's start; fuzz: its time
    bound plus start-up and shrinking; load: the run plus Locust's start-up and reports (its share of the deadline;
    the load runner bounds Locust itself). 0 for fuzz and load without their profile section; e2e without journeys
    keeps the browser's start for a team's own browser tests."""
    if stage == "smoke":
        return SMOKE_START_S + sum(check_budget_s(profile, p) for p in registry.plan(profile, base_url))
    if stage == "e2e":
        return E2E_START_S + e2e_stage_budget_s(profile) if profile.journeys else E2E_START_S
    if stage == "fuzz":
        if profile.fuzz is None:
            return 0.0
        return float((options.max_time_s if options else None) or profile.fuzz.max_time_s) + FUZZ_GRACE_S
    if stage == "load":
        if profile.load is None:
            return 0.0
        return float(getattr(profile.load, "duration_s", 60) or 60) * 1.2 + LOAD_GRACE_S
    raise ValueError(f"unknown stage {stage!r}")


def default_deadline_s(profile: Profile, stages: list[str]) -> float:
    """The stages' own budgets (stage_budget_s), the preflight, rollback and its re-verification, and a margin."""
    d = profile.defaults
    total = MARGIN_S + attempts_budget_s(d.timeout_s, d.retries, d.backoff_s)  # the preflight
    for stage in stages:
        if stage == "e2e" and not profile.journeys:
            continue  # only a team's own browser tests: they are bounded by the deadline, not budgeted here
        total += stage_budget_s(profile, stage)
    if profile.rollback is not None:  # the command, then the smoke stage again on the rolled-back release
        total += profile.rollback.timeout_s + stage_budget_s(profile, "smoke")
    return round(total)


def parse_deadline(value: float | None) -> float | None:
    """--deadline validated (ProfileError names the option)."""
    if value is None:
        return None
    if not value > 0 or value > 7 * 86400:
        raise ProfileError(f"--deadline: expected seconds between 1 and {7 * 86400}, got {value:g}")
    return max(1.0, float(value))


def ensure_writable(folder: Path) -> None:
    """The reports folder exists (made if need be) and can be written; ProfileError says why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ProfileError(f"--reports {folder}: exists and is not a directory") from None
    except OSError as exc:
        raise ProfileError(f"--reports {folder}: cannot create the reports directory: {exc.strerror or exc}"
                           ) from None
    if not folder.is_dir():
        raise ProfileError(f"--reports {folder}: exists and is not a directory")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".synthgate-write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ProfileError(f"--reports {folder}: the reports directory is not writable: {exc.strerror or exc}"
                           ) from None


class HardStop:
    """At the deadline (less one second), run `expire` in a thread if the gate has not finished by then."""

    def __init__(self, deadline: Deadline, expire: Callable[[], None]) -> None:
        self.finished = threading.Event()
        self._expire = expire
        self._timer = threading.Timer(max(0.1, deadline.remaining() - 1.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        if not self.finished.is_set():
            self._expire()

    def done(self) -> None:
        """The gate finished on its own."""
        self.finished.set()
        self._timer.cancel()


# the run's deadline, once `start` set it (a one-item list: a slot's value is made by its factory)
DEADLINE: run_state.Slot[list[Deadline]] = run_state.Slot("gate deadline", list)


def start(total_s: float) -> Deadline:
    """The running gate's deadline, from now."""
    held = run_state.current().get(DEADLINE)
    held[:] = [Deadline(total_s)]
    return held[0]


def current() -> Deadline | None:
    """The running gate's deadline, if one was started in this run."""
    held = run_state.current().get(DEADLINE)
    return held[0] if held else None


def capped(timeout_s: float) -> float:
    """A timeout no longer than the time left before the reports' reserve (at least 0.5 s)."""
    d = current()
    return timeout_s if d is None else max(0.5, min(timeout_s, d.work_left()))


def expire_gate(verdict: Any, reports_dir: Path, clock: float, progress: Callable[[str], None]) -> None:
    """The deadline passed with the gate still busy: kill every child group, write the reports, exit."""
    d = current()
    killed = procs.kill_all()
    total = f"{d.total_s:g} s " if d else ""
    message = (f"the gate did not finish within its {total}deadline (--deadline): what was still running was ended"
               + (f" ({killed} process group(s) killed)" if killed else ""))
    answered = any(c.kind != "unreachable" for s in verdict.stages for c in s.checks)
    check = CheckResult(id="gate.deadline", status="failed", kind="error" if answered else "unreachable",
                        message=message)
    verdict.stages.append(StageResult.from_checks("deadline", [check], 0.0))
    verdict.verdict = decide(verdict.stages)
    code = EXIT_CODES[verdict.verdict]
    verdict.exit_code = code  # the gate's thread may still run: the exit below uses `code`, never a later value
    verdict.reason = message
    verdict.duration_s = round(time.monotonic() - clock, 3)
    try:
        reports.write_all(verdict, reports_dir)
        scrub_reports(reports_dir)
        progress(f"synthgate: {message}; reports: {reports_dir}/")
    finally:
        redactor.unshare()
        os._exit(code)


def work_until_or_none() -> float | None:
    """When stages must have ended (time.monotonic()), if a gate deadline runs."""
    d = current()
    return d.work_until if d is not None else None


def capped_spec(spec: Any) -> Any:
    """A rollback spec whose timeout ends before the reports' reserve."""
    return spec.model_copy(update={"timeout_s": capped(spec.timeout_s)})
