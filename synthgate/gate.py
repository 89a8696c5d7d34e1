"""The gate: stage order, fail-fast, pass/fail/inconclusive, rollback trigger, reports."""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from synthgate import auth, baseline, debt, reports, rollback, run_context, run_state, server_errors, version_pin
from synthgate import deadline as _deadline
from synthgate.accept import Acceptances
from synthgate.baseline_source import check_local as check_baseline_source
from synthgate.bounded import response_json
from synthgate.checks import cold, hygiene_late, seen
from synthgate.checks.outcome import Outcome, result_of, run_with_retries
from synthgate.http import make_client, send_raw
from synthgate.profile import Profile, ProfileError, load_profile
from synthgate.readiness import release as release_readiness
from synthgate.redact import mask_url, redactor
from synthgate.reports import ci, har
from synthgate.results import (
    EXIT_CODES,
    EXIT_INCONCLUSIVE,
    EXIT_ROLLBACK_FAILED,
    TOOL_ERROR,
    CheckResult,
    RollbackResult,
    StageResult,
    Verdict,
    decide,
)
from synthgate.scrub import scrub_reports
from synthgate.stage_options import StageOptions
from synthgate.stages import STAGE_ORDER, StageContext, stage_runner
from synthgate.target import Target, TargetOpener, opener_for
from synthgate.version_pin import VersionPin

# the stages whose checks judge the seen-answers ledger (smoke: hygiene's cookie and cache items; e2e: the journeys')
HYGIENE_STAGES = ("smoke", "e2e")


@dataclass
class GateOptions:
    """What `synthgate run` was asked to do."""

    profile: str = "demo"
    base_url: str | None = None
    stages: list[str] = field(default_factory=lambda: list(STAGE_ORDER))
    # asked for by name: a stage the profile gives nothing to run is then "no data", never a quiet skip
    stages_explicit: bool = True
    reports_dir: Path = Path("reports")
    no_rollback: bool = False
    # how the target is opened once the profile is loaded (default: --base-url, the environment or the profile)
    open_target: TargetOpener | None = None
    release: str | None = None
    expect_release: str | None = None  # wait for the release marker to show this before judging
    baseline: str | None = None  # "last-pass" (default when history exists), "none", or a reports dir
    history_db: Path | None = None
    stage_options: StageOptions = field(default_factory=StageOptions)
    deadline_s: float | None = None  # --deadline: the whole gate, reports included (default: from the budgets)
    progress: Callable[[str], None] = print
    # every request pinned to one version (synthgate rollout): its headers, and the version answers must name
    pin: VersionPin | None = None
    record_history: bool = True  # False: this run is no release's result (a rollout's pinned step 0)


def prepare(opts: GateOptions) -> tuple[Profile, Path]:
    """Load the profile and check the run can start; ProfileError (exit 2) otherwise."""
    profile, path = load_profile(opts.profile)
    redactor.add_profile(profile)
    missing = [ref.env for ref in profile.secrets.values() if ref.required and not os.environ.get(ref.env)]
    if missing:
        raise ProfileError(f"{path}: secrets: required environment variable(s) not set: {', '.join(missing)}")
    unknown = [s for s in opts.stages if s not in STAGE_ORDER]
    if unknown:
        raise ProfileError(f"--stages: unknown stage(s) {', '.join(unknown)}; expected {', '.join(STAGE_ORDER)}")
    release_readiness.expected_release(opts.expect_release, profile)  # an empty --expect-release: exit 2 now
    return profile, path


def preflight(profile: Profile, base_url: str) -> CheckResult | None:
    """None when the target answers at all; else the failed reachability check (bounded by the timeout)."""

    def attempt() -> Outcome:
        with make_client(profile, timeout_s=_deadline.capped(profile.defaults.timeout_s)) as client:
            ex = send_raw(client, "GET", base_url.rstrip("/") + (profile.health.path if profile.health else "/"))
        if ex.response is not None or ex.answered_status is not None:  # an answer over a bound is still one
            return Outcome(ok=True, exchanges=[ex])
        # no answer at all: unreachable (DNS, connection), else an error (no data about the deployment either)
        return Outcome(ok=False, message=ex.error or "no response",
                       kind="unreachable" if ex.error_kind == "unreachable" else "error", exchanges=[ex],
                       curl=ex.curl())

    tried = run_with_retries(attempt, profile.defaults.retries, profile.defaults.backoff_s)
    if tried.final.ok:
        return None
    prefix = ("the runner could not reach the target" if (tried.first_failure or tried.final).kind == "unreachable"
              else "the target did not answer")
    return result_of("target-reachable", tried, failure_prefix=f"{prefix} at {base_url}: ")


def run_gate(opts: GateOptions) -> Verdict:
    """Run the gate end to end and write every report; raises ProfileError for usage problems.

    The run owns its state (synthgate.run_state): its 5xx tally, cold-start ledger, session, deadline and the
    transport's listeners are its own, so a second gate in the same process starts from nothing."""
    with run_state.running(run_state.RunState("gate")):
        return _gate(opts)


def _gate(opts: GateOptions) -> Verdict:
    profile, path = prepare(opts)
    check_baseline_source(opts.baseline or "last-pass")  # a --baseline naming nothing: exit 2 now, not after the stages
    if opts.pin is not None:  # in this process, and in every stage process through the stage options
        profile = profile.model_copy(update={"headers": {**profile.headers, **opts.pin.headers}})
        opts.stage_options = opts.stage_options.model_copy(update={"pin": opts.pin.to_option()})
    ci.begin()  # GitHub Actions: no workflow command from the target's answers until the verdict (see reports/ci.py)
    started_at = datetime.now(UTC)
    clock = time.monotonic()
    reports_dir = opts.reports_dir
    _deadline.ensure_writable(reports_dir)
    gate_deadline = _deadline.start(opts.deadline_s or _deadline.default_deadline_s(profile, opts.stages))
    verdict = Verdict(verdict="inconclusive", exit_code=EXIT_INCONCLUSIVE, target=profile.name, base_url="",
                      started_at=started_at.isoformat(timespec="seconds"), duration_s=0.0, profile=str(path))
    with ExitStack() as stack:
        # what the stage processes need from this gate (secrets file, auth session, cold ledger, its pid)
        stack.callback(run_context.close_context, run_context.open_context(reports_dir / ".work"))
        version_pin.activate(opts.pin)  # this run's own checks judge answers by it too (None: unpinned)
        cold.listen()  # the gate's own first contacts (preflight, release polls) are cold samples
        seen.listen()  # and its answers are hygiene's evidence too
        opener = opts.open_target or opener_for(opts.base_url)
        target = stack.enter_context(opener(profile, path))
        stack.callback(auth.end)  # the session file does not outlive the gate
        verdict.base_url = mask_url(target.base_url)
        progress = _redacting(opts.progress)
        progress(f"synthgate: gating {profile.name} at {verdict.base_url} ({target.source}); "
                 f"deadline {gate_deadline.total_s:g} s")
        stop = _deadline.HardStop(gate_deadline, lambda: _deadline.expire_gate(verdict, reports_dir, clock, progress))
        try:
            _run(verdict, profile, path, target, opts, progress, clock, stack.enter_context(server_errors.counting()))
        except ProfileError:
            raise  # bad input from the user found mid-run (e.g. --baseline names nothing): exit 2, not a crash
        except Exception as exc:  # noqa: BLE001 - synthgate's own bug: an `error` verdict with its log, never a fail
            _internal_error(verdict, exc, reports_dir, progress)
        finally:
            stop.done()
            cold.close()  # the run's cold-start ledger ends with the run
            seen.close()  # and so does its seen-answers ledger
            verdict.duration_s = round(time.monotonic() - clock, 3)
            _write_reports(verdict, reports_dir, progress)
            scrub_reports(reports_dir)  # what stage processes wrote before they learned a secret
            redactor.unshare()  # the shared file of learned secrets goes; this process still knows them
    ci.emit(verdict, reports_dir)  # step summary, outputs, one annotation per failed check (CI only)
    return verdict


def _redacting(progress: Callable[[str], None]) -> Callable[[str], None]:
    return lambda text: progress(redactor(text))


CRASH_LOG = "logs/synthgate-crash.log"


def write_crash_log(reports_dir: Path, name: str, exc: BaseException) -> str:
    """The traceback of a crash in synthgate's own code, redacted, under reports/logs/; its path in the reports."""
    rel = f"logs/{name}"
    try:
        path = reports_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(traceback.format_exception(exc))
        path.write_text(redactor(text), encoding="utf-8")
    except OSError:
        return "(the log could not be written either)"
    return rel


def _internal_error(verdict: Verdict, exc: Exception, reports_dir: Path, progress: Callable[[str], None]) -> None:
    """An exception in synthgate's own code outside any stage: one tool-error check, the verdict from what ran."""
    log = write_crash_log(reports_dir, "synthgate-crash.log", exc)
    check = CheckResult(id="synthgate.internal", status="failed", kind=TOOL_ERROR,
                        message=redactor(f"synthgate itself failed: {exc.__class__.__name__}: {exc} (see {log})"))
    verdict.stages.append(StageResult.from_checks("synthgate", [check], 0.0))
    progress(f"  ERROR {check.message}")
    _settle(verdict)
    verdict.log = verdict.log or log


def _write_reports(verdict: Verdict, reports_dir: Path, progress: Callable[[str], None]) -> None:
    """Every report; one that cannot be written makes an `error` verdict (unless evidence already failed it)."""
    problems: list[str] = []
    reports.write_all(verdict, reports_dir, problems)
    if not problems:
        return
    check = CheckResult(id="reports.write", status="failed", kind=TOOL_ERROR,
                        message="report(s) could not be written: " + "; ".join(problems))
    verdict.stages.append(StageResult.from_checks("reports", [check], 0.0))
    progress(f"  ERROR {check.message}")
    _settle(verdict)
    reports.write_all(verdict, reports_dir, [])  # what can be written says so


def _settle(verdict: Verdict) -> None:
    """Verdict, exit code and reason from the stages (the rollback's outcome kept)."""
    verdict.verdict = decide(verdict.stages)
    code = EXIT_CODES[verdict.verdict]
    rolled_back_badly = verdict.exit_code == EXIT_ROLLBACK_FAILED and verdict.verdict == "fail"
    verdict.exit_code = EXIT_ROLLBACK_FAILED if rolled_back_badly else code
    reason = _reason(verdict)
    if verdict.rollback.triggered and verdict.reason.startswith(reason):
        return  # the reason already says what the rollback did
    verdict.reason = reason


def _run(verdict: Verdict, profile: Profile, path: Path, target: Target, opts: GateOptions,
         progress: Callable[[str], None], clock: float, own_traffic: server_errors.Tally) -> None:
    def context(label: str = "") -> StageContext:
        return StageContext(profile=profile, profile_path=path, base_url=target.base_url,
                            reports_dir=opts.reports_dir, progress=progress, options=opts.stage_options,
                            label=label, deadline=_deadline.work_until_or_none())

    cold.begin(opts.reports_dir, target.base_url)  # from here on, each endpoint's first request is a cold sample
    seen.begin(opts.reports_dir, target.base_url)  # every answer's cookies and caching headers, for hygiene
    har.clear_stale(opts.reports_dir)
    unreachable = preflight(profile, target.base_url) or release_readiness.gate_check(
        verdict, profile, target.base_url, opts.expect_release, target.release, progress)
    if unreachable is not None:
        progress(f"  FAIL {unreachable.message}")
        first = opts.stages[0] if opts.stages else "smoke"
        verdict.stages.append(StageResult.from_checks(first, [unreachable], unreachable.duration_ms / 1000))
        verdict.stages += [StageResult.skipped(s, release_readiness.skip_reason(unreachable)) for s in opts.stages[1:]]
    else:
        verdict.release = opts.release or _release_of(profile, target.base_url)
        accepted = Acceptances(profile.accept)
        findings = _debt_judge(profile, opts, _history_key(verdict, target), progress)
        login = auth.gate_login(profile, target.base_url, opts.reports_dir, progress)  # once, shared by every stage
        if login is not None:
            _judge(login, findings, accepted, progress)
            verdict.stages.append(login)
        failed = login is not None and login.status == "failed"
        judged_up_to = 0  # the seen-answers ledger's lines hygiene judged already (smoke's items, the journeys')
        for name in [s for s in STAGE_ORDER if s in opts.stages]:
            if failed:
                verdict.stages.append(StageResult.skipped(name, "skipped: an earlier stage failed (fail fast)"))
                continue
            progress(f"stage {name}")
            result = _run_stage(name, context())
            if result.status == "skipped" and opts.stages_explicit:
                result = StageResult.from_checks(name, [CheckResult(
                    id=f"{name}.executed-checks", status="failed", kind="no-data",
                    message=f"inconclusive: --stages asked for {name}, but {result.message}")], result.duration_s)
            _judge(result, findings, accepted, progress)  # debt and accepted defects, before fail fast looks
            verdict.stages.append(result)
            if result.load is not None:
                verdict.load = result.load
            progress(f"stage {name}: {result.status} ({result.duration_s:.1f} s)")
            failed = result.status == "failed"
            if name in HYGIENE_STAGES and result.status != "skipped":
                judged_up_to = hygiene_late.mark()
            reports.write_verdict_json(verdict, opts.reports_dir)  # a crash later still leaves this
        late = hygiene_late.stage(profile, judged_up_to)  # what fuzz (and any later stage) saw: cookies, caching
        seen.close()  # a rollback's re-verification judges the old release's answers alone
        if late is not None:
            _judge(late, findings, accepted, progress)
            verdict.stages.append(late)
            progress(f"stage {late.name}: {late.status} ({late.message})")
        budget = server_errors.budget_stage(verdict.stages, own_traffic.take(),
                                            profile.defaults.max_server_error_rate)
        if budget is not None:  # every 5xx of every stage against every request sent
            _judge(budget, None, accepted, progress)
            verdict.stages.append(budget)
            progress(f"server errors: {budget.message}")
        # adds a `baseline` stage when a history exists
        baseline.compare(verdict, profile, opts, progress, _history_key(verdict, target))
        if verdict.stages and verdict.stages[-1].name == "baseline":
            _judge(verdict.stages[-1], None, accepted, progress)
        verdict.stale_acceptances = accepted.stale()
        for entry in verdict.stale_acceptances:
            progress(f"stale acceptance: {entry.check} ({entry.reason}, until {entry.until}) "
                     "matched no failing check in this run")
        if findings is not None:
            verdict.debt = findings.summary()
    verdict.complete = set(baseline.declared_stages(profile)) <= set(opts.stages)
    verdict.ran = [s for s in STAGE_ORDER if s in opts.stages]
    _settle(verdict)
    verdict.log = _error_log(verdict)
    if verdict.verdict != "pass":
        _maybe_roll_back(verdict, profile, target, opts, progress, context, accepted_for(profile))
    if opts.record_history:
        baseline.record(verdict, profile, opts, _history_key(verdict, target))


def accepted_for(profile: Profile) -> Acceptances:
    """The profile's acceptances, for a stage judged outside the run's own (the re-verification after rollback)."""
    return Acceptances(profile.accept)


def _debt_judge(profile: Profile, opts: GateOptions, key: str, progress: Callable[[str], None]) -> debt.Debt | None:
    """The `new_only` judge of this run, with the previous passing run it compares with (None: no new_only)."""
    if not debt.enabled(profile):
        return None
    found = baseline.previous_release(opts, profile, key, progress)
    if found is None:
        progress("debt: no previous release to compare with (first run): findings are recorded as the starting debt")
        return debt.Debt(profile, None)
    previous, source = found
    progress(f"debt: new findings are judged against {source}")
    return debt.Debt(profile, previous, source)


def _judge(stage: StageResult, findings: debt.Debt | None, accepted: Acceptances,
           progress: Callable[[str], None]) -> None:
    """Existing debt first, then accepted defects: the only places a failed check stops failing."""
    lines = findings.judge_stage(stage) if findings is not None else []
    lines += accepted.judge_stage(stage)
    for line in lines:
        progress(f"  {line}")


def _error_log(verdict: Verdict) -> str | None:
    """Where to read about the tool errors of this run: a crash log, or the stage's pytest log."""
    for stage, check in verdict.tool_errors():
        if check.id == "synthgate.internal":
            return CRASH_LOG
        found = next((word.rstrip("):.,;") for word in check.message.split() if word.startswith("logs/")), None)
        return found or f"logs/{stage}.log"
    return None


def _history_key(verdict: Verdict, target: Target) -> str:
    """What files this run in the history: the target's own key, else its base URL as reported."""
    return target.history_key or verdict.base_url


def _run_stage(name: str, ctx: StageContext) -> StageResult:
    """Run one stage; a crash is a tool error of that stage (never evidence against the deployment)."""
    started = time.monotonic()
    try:
        return stage_runner(name)(ctx)
    except Exception as exc:  # noqa: BLE001 - any crash must still produce a result and reports
        tag = f"{name}-{ctx.label}" if ctx.label else name
        log = write_crash_log(ctx.reports_dir, f"{tag}-crash.log", exc)
        check = CheckResult(id=f"{name}.crashed", status="failed", kind=TOOL_ERROR,
                            message=redactor(f"the {name} stage crashed: {exc.__class__.__name__}: {exc} "
                                             f"(see {log})"))
        return StageResult.from_checks(name, [check], time.monotonic() - started)


def _release_of(profile: Profile, base_url: str) -> str | None:
    """The release under test, from the health endpoint's `version` field when it has one."""
    if profile.health is None:
        return None
    try:
        with make_client(profile, timeout_s=min(5.0, profile.defaults.timeout_s)) as client:
            ex = send_raw(client, "GET", base_url.rstrip("/") + profile.health.path)
        data = response_json(ex.response) if ex.response is not None else None
    except ValueError:
        return None
    value = data.get("version") if isinstance(data, dict) else None
    return str(value) if value is not None else None


def _reason(verdict: Verdict) -> str:
    failed = verdict.failed_checks()
    if verdict.verdict == "pass":
        flaky = verdict.flaky_checks()
        notes = [f"{len(flaky)} flaky" if flaky else "", _accepted_note(verdict), _debt_note(verdict)]
        notes = [n for n in notes if n]
        return "all checks passed" + (f" ({', '.join(notes)})" if notes else "")
    if verdict.verdict == "error":
        errors = verdict.tool_errors()
        return (f"error: synthgate could not judge this deployment; {len(errors)} check(s) broke in synthgate or in "
                "the team's test code, not in the deployment: "
                + "; ".join(f"{s}/{c.id}: {c.message}" for s, c in errors)[:400]
                + f" (see {_error_log(verdict) or 'logs/'})")
    if verdict.verdict == "inconclusive":
        if any(c.kind == "unreachable" for _, c in failed):
            return "inconclusive: the runner could not reach the target (no check got any answer)"
        return "inconclusive: no data: " + "; ".join(c.message for _, c in failed)[:300]
    evidence = [(s, c) for s, c in failed if c.is_evidence_failure]
    return f"{len(evidence)} check(s) failed: " + ", ".join(f"{s}/{c.id}" for s, c in evidence)[:500]


def _accepted_note(verdict: Verdict) -> str:
    accepted = verdict.accepted_checks()
    return f"{len(accepted)} accepted until their date" if accepted else ""


def _debt_note(verdict: Verdict) -> str:
    if not verdict.debt or not verdict.debt.existing:
        return ""
    first = " (starting debt: no previous release to compare with)" if verdict.debt.first_run else ""
    return f"{verdict.debt.existing} finding(s) of existing debt{first}"


def _started_epoch(verdict: Verdict) -> float:
    """The gate's start as epoch seconds."""
    return datetime.fromisoformat(verdict.started_at).timestamp()


def _maybe_roll_back(verdict: Verdict, profile: Profile, target: Target, opts: GateOptions,
                     progress: Callable[[str], None], context: Callable[[str], StageContext],
                     accepted: Acceptances) -> None:
    spec = profile.rollback
    if spec is None or opts.no_rollback or verdict.verdict not in spec.on:
        why = ("--no-rollback" if opts.no_rollback else "no rollback configured" if spec is None
               else f"rollback not configured for '{verdict.verdict}'")
        verdict.rollback = RollbackResult(triggered=False, message=why)
        return

    spec = _deadline.capped_spec(spec)  # the rollback ends before the reports' reserve of the deadline

    def verify() -> StageResult:
        stage = _run_stage("smoke", context("verify"))
        accepted.judge_stage(stage)  # an accepted defect the old release shares is no reason to call it unhealthy
        return stage

    result, stage = rollback.perform(spec, profile.name, target.base_url, target.rollback_env, verify, progress,
                                     gate_started=_started_epoch(verdict))
    verdict.rollback = result
    if stage is not None:
        verdict.rollback.message += f" ({len(stage.checks)} smoke checks re-run)"
    if result.verified is False:
        verdict.exit_code = EXIT_ROLLBACK_FAILED
        verdict.reason += f"; rollback did not restore health: {result.message}"
    else:
        verdict.reason += "; rolled back and verified"
