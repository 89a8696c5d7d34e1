"""What the scheduler runs: one job per smoke check, and the e2e stage as one job; each returns probe results."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthgate import auth
from synthgate.accept import Acceptances
from synthgate.checks import registry
from synthgate.checks.outcome import result_of
from synthgate.checks.smoke import SmokeCheck, execute
from synthgate.deadline import probe_deadline_s
from synthgate.profile import Profile
from synthgate.redact import redactor
from synthgate.results import NOT_EVIDENCE, TOOL_ERROR, CheckResult
from synthgate.stages import StageContext, stage_runner
from synthgate.store import ProbeResult

MESSAGE_LIMIT = 2000
ACCEPTED = "accepted"  # the kind of a failed probe result an `accept:` entry sets aside (outcome up)


class ProbeSetupError(Exception):
    """The probe cannot start as asked; the message is meant for the user as is."""


@dataclass
class Job:
    """A schedulable unit: an id, its interval, and a function (run in a worker thread) that yields results."""

    id: str
    interval: float
    run: Callable[[], list[ProbeResult]]
    stage: str = "smoke"
    deadline_s: float | None = None  # the most one run may take: then it is reported timed out (no data)


def outcome_of(status: str, kind: str | None, unreachable: str = "ignore") -> str:
    """up, down or unknown: a failure without evidence (unreachable, no data) is unknown unless told otherwise."""
    if status == "passed":
        return "up"
    if (kind or "assertion") in NOT_EVIDENCE and not (unreachable == "down" and kind == "unreachable"):
        return "unknown"
    return "down"


def probe_result(check: CheckResult, ts: float, profile: Profile, *, duration_ms: float | None = None,
                 latency_ms: float | None = None, stage: str = "smoke", check_id: str | None = None,
                 consistency: float | None = None) -> ProbeResult:
    """The one mapping from a check's result (synthgate.checks.outcome.result_of) to a probe result: up, down or
    unknown as `outcome_of` decides it (with the profile's `probe.unreachable`), and an `accept:` entry's verdict
    as synthgate/accept.py decides it: an accepted failure stays `failed` in the history (what happened) with kind
    `accepted` and outcome up, never down; an expired acceptance fails again and says so."""
    if check.status == "failed" and profile.accept:
        Acceptances(profile.accept).judge(check)
    status = "passed" if check.status == "passed" else "failed"
    message = check.message or ("ok" if status == "passed" else "failed")
    kind: str | None = None if status == "passed" else check.kind
    outcome = outcome_of(status, kind, profile.probe.unreachable)
    if check.status == "accepted":
        note = check.acceptance
        kind, outcome = ACCEPTED, "up"
        message = f"accepted until {note and note.until} ({note and note.reason}): {message}"
    return ProbeResult(
        check_id=check_id or check.id, stage=stage, ts=ts,
        duration_ms=check.duration_ms if duration_ms is None else duration_ms, status=status, outcome=outcome,
        kind=kind, attempts=check.attempts, latency_ms=latency_ms, message=redactor(message)[:MESSAGE_LIMIT],
        consistency_s=consistency)


def smoke_result(check: SmokeCheck, profile: Profile, base_url: str) -> ProbeResult:
    """Run one smoke check (with its retries) and turn it into a probe result; never raises."""
    ts = time.time()
    started = time.perf_counter()
    try:
        tried = execute(check, profile, base_url)
    except Exception as exc:  # noqa: BLE001 - a crashing check is a failed result, never a dead scheduler
        return ProbeResult(check_id=check.id, ts=ts, duration_ms=(time.perf_counter() - started) * 1000,
                           status="failed", outcome="unknown", kind=TOOL_ERROR, attempts=1,
                           message=redactor(f"check crashed: {exc.__class__.__name__}: {exc}")[:MESSAGE_LIMIT])
    final = tried.final
    # what a user waits for: the final attempt's requests, without the retries and backoff before it
    latency = sum(ex.duration_ms for ex in final.exchanges) if final.exchanges else None
    return probe_result(result_of(check.id, tried), ts, profile, duration_ms=round(tried.duration_ms, 3),
                        latency_ms=None if latency is None else round(latency, 3),
                        consistency=consistency_s(final.details))


def consistency_s(details: dict[str, Any]) -> float | None:
    """How long the check's eventually consistent reads took to hold (the longest), if it has any."""
    waits = [w["waited_s"] for w in details.get("eventually") or [] if w.get("held")]
    return max(waits) if waits else None


def smoke_jobs(profile: Profile, base_url: str, every: float) -> list[Job]:
    """One job per check of the kinds probes run (synthgate.checks.registry); a check's own `every` wins over the
    probe's."""
    jobs = []
    for planned in registry.plan(profile, base_url, probed=True):
        check = planned.check

        def run(check: SmokeCheck = check) -> list[ProbeResult]:
            return [smoke_result(check, profile, base_url)]

        jobs.append(Job(id=check.id, interval=check.every or every, run=run,
                        deadline_s=probe_deadline_s(profile, planned)))
    return jobs


def auth_job(profile: Profile, base_url: str, every: float, work_dir: Path) -> Job:
    """For `synthgate probe`: log in now (before the first round), and again every round, as the job `auth.login`."""
    def run() -> list[ProbeResult]:
        ts = time.time()
        _session, tried = auth.start(profile, base_url, work_dir)
        assert tried is not None
        return [probe_result(auth.login_result(tried), ts, profile, duration_ms=round(tried.duration_ms, 3))]

    auth.start(profile, base_url, work_dir)  # the first round's checks need the session before they start
    return Job(id=auth.CHECK_ID, interval=every, run=run)


def e2e_job(profile: Profile, profile_path: Path, base_url: str, every: float, reports_dir: Path,
            progress: Callable[[str], None]) -> Job:
    """The e2e stage (browser journeys) as one job; ProbeSetupError when this installation has no e2e stage."""
    try:
        runner = stage_runner("e2e")
    except (ImportError, AttributeError, ValueError) as exc:
        raise ProbeSetupError(f"--stages e2e: the e2e stage is not available in this installation ({exc}); "
                              "probe with --stages smoke") from None
    def run() -> list[ProbeResult]:
        ts = time.time()
        ctx = StageContext(profile=profile, profile_path=profile_path, base_url=base_url,
                           reports_dir=reports_dir / "probe-e2e", progress=lambda _text: None, label="probe")
        try:
            stage = runner(ctx)
            checks = stage.checks
        except Exception as exc:  # noqa: BLE001 - a crashed stage is one failed result
            checks = [CheckResult(id="stage", status="failed", kind=TOOL_ERROR,
                                  message=f"the e2e stage crashed: {exc.__class__.__name__}: {exc}")]
        return [probe_result(c, ts, profile, latency_ms=c.duration_ms, stage="e2e", check_id=f"e2e:{c.id}")
                for c in checks if c.status != "skipped"]

    return Job(id="stage:e2e", interval=every, run=run, stage="e2e")
