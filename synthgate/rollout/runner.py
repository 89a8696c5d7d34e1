"""`synthgate rollout`: take a new version from 0 % to 100 % of the traffic, step by step, judging it at each.

- A step at 0 % sets the split (the new version in the deployment, without traffic), then runs the whole gate
  against production pinned to the new version (the pin header, e.g. Cloudflare's version override), before
  any user meets it.
- A traffic step sets the split, runs the smoke checks pinned to each version, then sends the load mix to both
  versions at once for the step's hold time and compares them side by side (synthgate.rollout.sidebyside).
- A failed step, the rollout's deadline, SIGTERM or SIGINT: the split goes back to the old version at 100 %
  (one command) at once. After a failure (or the deadline) the data is restored when the release changes data,
  the smoke checks verify that users get the old version, and the code rollback runs if that verification fails.
- The last step (100 %) passed: the release is promoted and recorded in the run history as the last good one.
- A tool failure (the snapshot or split command failed, synthgate's own crash, a stage that broke) is the `error`
  verdict (exit 5) with its log, never a deployment failure: the split still goes back to the old version at
  100 % when traffic may have moved, but the code rollback runs only when `rollback.on` lists `error`.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synthgate import auth, baseline, reports, rollback
from synthgate import deadline as _deadline
from synthgate.gate import GateOptions, run_gate, write_crash_log
from synthgate.profile import Profile, ProfileError, load_profile, resolve_base_url
from synthgate.profile.rollout import Rollout, RolloutStep
from synthgate.redact import mask_url, redactor
from synthgate.reports import ci
from synthgate.results import (
    EXIT_CODES,
    EXIT_FAIL,
    EXIT_INCONCLUSIVE,
    EXIT_PASS,
    EXIT_ROLLBACK_FAILED,
    TOOL_ERROR,
    CheckResult,
    RestoreRun,
    RollbackResult,
    RolloutData,
    RolloutPin,
    RolloutReport,
    RolloutStepReport,
    SideBySideFigures,
    SmokeRun,
    SnapshotRun,
    StageResult,
    StepGate,
    StepSmoke,
    StoppedAt,
    Verdict,
    VerdictName,
    VersionEvidenceSource,
)
from synthgate.rollout import sidebyside
from synthgate.rollout.split import SplitRun, set_split, split_back
from synthgate.scrub import scrub_reports
from synthgate.stage_options import StageOptions
from synthgate.stages import STAGE_ORDER, StageContext, stage_runner
from synthgate.version_pin import VersionPin

MIN_HOLD_S = 3.0  # a traffic step compares for at least this long, whatever hold_s says
STEP_OVERHEAD_S = 120.0  # per traffic step in the default deadline: the split command and two smoke runs
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Cancelled(BaseException):
    """The rollout must end now: a signal or its deadline (a BaseException: no `except Exception` keeps it)."""

    def __init__(self, why: str, code: int, verify: bool) -> None:
        super().__init__(why)
        self.why, self.code, self.verify = why, code, verify


@dataclass
class RolloutOptions:
    """What `synthgate rollout` was asked to do."""

    profile: str
    new: str
    old: str
    base_url: str | None = None
    reports_dir: Path = Path("reports")
    changes_data: bool | None = None  # None: the profile's rollout.changes_data
    no_rollback: bool = False
    history_db: Any = None
    deadline_s: float | None = None
    progress: Callable[[str], None] = print


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def default_deadline_s(profile: Profile, spec: Rollout) -> float:
    """The step-0 gate's own deadline, every hold time with its overhead, and the way back."""
    stages = list(spec.gate_stages or STAGE_ORDER)
    gate = _deadline.default_deadline_s(profile, stages) if any(s.percent == 0 for s in spec.steps) else 0.0
    traffic = sum(max(s.hold_s, MIN_HOLD_S) + STEP_OVERHEAD_S for s in spec.steps if s.percent > 0)
    return round(gate + traffic + spec.split_timeout_s * 2 + 120)


@dataclass
class _Run:
    opts: RolloutOptions
    profile: Profile
    path: Path
    spec: Rollout
    base_url: str
    verdict: Verdict
    changes_data: bool
    ends_at: float
    report: RolloutReport
    stopping: bool = False
    snapshot_taken: SnapshotRun | None = None  # raw, for the restore; the report's copy is redacted

    # -- pins ------------------------------------------------------------------------------------------------

    def pin(self, version: str, with_header: bool = True) -> VersionPin:
        source = self.spec.version_from
        return VersionPin(version=version, headers=self.spec.pin.render(version) if with_header else {},
                          evidence_header=source.header if source else None,
                          evidence_json=source.json_field if source else None)

    def say(self, text: str) -> None:
        self.opts.progress(redactor(f"rollout: {text}"))

    # -- the steps -------------------------------------------------------------------------------------------

    def run(self) -> None:
        if self.changes_data:
            self.snapshot()
        for index, step in enumerate(self.spec.steps):
            record = RolloutStepReport(step=index, percent=_num(step.percent), hold_s=step.hold_s, status="running",
                                       started_at=_now())
            self.report.steps.append(record)
            self.say(f"step {index}: {step.percent:g} % of the traffic to {self.opts.new}")
            started = time.monotonic()
            split = set_split(self.spec, self.opts.new, self.opts.old, step.percent)
            record.split = split.record()
            if not split.ok:
                # the platform refused the split (or the command broke): a tool error, nothing learned about the
                # new version; the split still goes back, since the command may have moved some traffic
                log = self.write_log(f"split-step{index}.log", split.command, split.output)
                checks = [CheckResult(id="split.command", status="failed", kind=TOOL_ERROR,
                                      message=redactor(f"the split command exited {split.exit_code}: "
                                                       f"{split.output.strip()[-300:]} (see {log})"))]
            elif step.percent == 0:
                checks = self.gate_step(index, record)
            else:
                checks = self.traffic_step(index, step, record)
            stage = StageResult.from_checks(f"step {index} ({step.percent:g} %)", checks, time.monotonic() - started)
            self.verdict.stages.append(stage)
            record.status = stage.status
            record.duration_s = round(time.monotonic() - started, 3)
            record.failed = [f"{c.id}: {c.message}"[:400] for c in stage.failed_checks]
            reports.write_verdict_json(self.verdict, self.opts.reports_dir)
            if stage.status == "failed":
                evidence = any(c.is_evidence_failure for c in stage.failed_checks)
                self.stop(index, step, evidence)
                return
            self.say(f"step {index} ({step.percent:g} %) passed")
        self.promote()

    def gate_step(self, index: int, record: RolloutStepReport) -> list[CheckResult]:
        """The whole gate against production, pinned to the new version."""
        folder = self.opts.reports_dir / f"step-{index}"
        stages = list(self.spec.gate_stages or STAGE_ORDER)
        # past the rollout's own deadline, so that one fires first and the split goes back (the gate's deadline
        # would end the process); the stages keep their own budgets
        gate_deadline = max(30.0, self.ends_at - time.monotonic() + 60)
        self.say(f"step {index}: the gate ({', '.join(stages)}) pinned to {self.opts.new} "
                 f"({self.spec.pin.header}), before any user meets it")
        gate = run_gate(GateOptions(
            profile=str(self.path), base_url=self.base_url, stages=stages, stages_explicit=False,
            reports_dir=folder, no_rollback=True, baseline="none", history_db=self.opts.history_db,
            pin=self.pin(self.opts.new), record_history=False, deadline_s=gate_deadline,
            progress=lambda text: self.opts.progress(f"  [step {index}] {text}")))
        record.gate = StepGate(verdict=gate.verdict, exit_code=gate.exit_code, reason=gate.reason,
                               reports=f"step-{index}/", pinned_to=self.opts.new)
        if gate.verdict == "error":  # the step gate's own log, as the rollout's reports name it
            self.verdict.log = record.gate.log = f"step-{index}/{gate.log or 'logs/'}"
        checks = [c.model_copy(update={"id": f"gate.{stage}/{c.id}"}) for stage, c in gate.all_checks()]
        if gate.verdict != "pass" and not any(c.status == "failed" for c in checks):
            checks.append(CheckResult(id="gate.verdict", status="failed", kind="no-data", message=gate.reason))
        return checks

    def traffic_step(self, index: int, step: RolloutStep, record: RolloutStepReport) -> list[CheckResult]:
        """Smoke pinned to each version, then the side-by-side comparison for the hold time."""
        folder = self.opts.reports_dir / f"step-{index}"
        checks: list[CheckResult] = []
        login = auth.gate_login(self.profile, self.base_url, folder, self.opts.progress)
        try:
            if login is not None:
                return [c.model_copy(update={"id": f"auth/{c.id}"}) for c in login.checks]
            new_smoke = self.smoke(folder, self.pin(self.opts.new), f"step{index}-new")
            checks += [c.model_copy(update={"id": f"new/{c.id}"}) for c in new_smoke.checks]
            record.smoke = smoke = StepSmoke(new=_smoke_record(new_smoke))
            if new_smoke.status == "failed":
                return checks
            compare = step.hold_s > 0 or step.percent < 100
            if compare:
                old_smoke = self.smoke(folder, self.pin(self.opts.old), f"step{index}-old")
                smoke.old = _smoke_record(old_smoke)
                if old_smoke.status == "failed":  # the stable side's own trouble: said, not held against the new
                    self.say(f"step {index}: the old version fails smoke checks too: "
                             + ", ".join(c.id for c in old_smoke.failed_checks))
                hold = max(step.hold_s, MIN_HOLD_S)
                self.say(f"step {index}: the same requests to {self.opts.new} and {self.opts.old} at once for "
                         f"{hold:g} s")
                try:
                    pairs = sidebyside.run_pairs(self.profile, self.base_url, self.pin(self.opts.new),
                                                 self.pin(self.opts.old), hold, self.spec.compare.concurrency,
                                                 stop=lambda: self.stopping, seed=index)
                except ValueError as exc:
                    return [*checks, CheckResult(id="compare.executed", status="failed", kind="no-data",
                                                 message=f"inconclusive: {exc}")]
                found, compared = sidebyside.judge(pairs, self.profile, self.spec.compare)
                record.side_by_side = sidebyside.figures(pairs)
                record.comparisons = compared
                checks += found
                passed_compare = [CheckResult(id="compare.side-by-side", status="passed",
                                              message=_figures_line(record.side_by_side))]
                checks += passed_compare if not found else []
                self.say(f"step {index}: {_figures_line(record.side_by_side)}")
        finally:
            auth.end()
        return checks

    def smoke(self, folder: Path, pin: VersionPin, label: str) -> StageResult:
        """The smoke stage with every request pinned (and every answer's version checked)."""
        ctx = StageContext(profile=self.profile, profile_path=self.path, base_url=self.base_url, reports_dir=folder,
                           progress=lambda text: None, options=StageOptions(pin=pin.to_option()), label=label)
        try:
            return stage_runner("smoke")(ctx)
        except Exception as exc:  # noqa: BLE001 - a crash is a tool error, never a lost rollout nor evidence
            log = write_crash_log(folder, f"smoke-{label}-crash.log", exc)
            return StageResult.from_checks("smoke", [CheckResult(
                id="smoke.crashed", status="failed", kind=TOOL_ERROR,
                message=redactor(f"the smoke stage crashed: {exc.__class__.__name__}: {exc} (see "
                                 f"{self.relative(folder / log)})"))], 0)

    # -- ends ------------------------------------------------------------------------------------------------

    def promote(self) -> None:
        self.report.outcome = "promoted"
        self.report.promoted = True
        self.verdict.verdict, self.verdict.exit_code = "pass", EXIT_PASS
        self.verdict.reason = f"{self.opts.new} promoted: every step passed, it takes 100 % of the traffic"
        self.say(self.verdict.reason)
        # the run history: only a promoted release is a last good one
        history = GateOptions(profile=str(self.path), reports_dir=self.opts.reports_dir,
                              history_db=self.opts.history_db)
        baseline.record(self.verdict, self.profile, history, self.verdict.base_url)
        self.report.recorded_as_last_good = True

    def stop(self, index: int, step: RolloutStep, evidence: bool, why: str = "") -> None:
        """Split back at once, restore data, verify, roll the code back if still broken."""
        self.report.stopped_at = StoppedAt(step=index, percent=_num(step.percent))
        self.report.outcome = "stopped"
        self.say(f"stopped at step {index} ({step.percent:g} %){': ' + why if why else ''}; "
                 f"the split goes back to {self.opts.old} at 100 %")
        back = self.split_back()
        self.restore_data()
        verified = self.verify_old() if back.ok else False
        failed_checks = [c for s in self.verdict.stages[-1:] for c in s.failed_checks]
        name: VerdictName = ("fail" if evidence or why else
                             "error" if any(c.is_tool_error for c in failed_checks) else "inconclusive")
        result = RollbackResult(triggered=True, command=back.command, exit_code=back.exit_code,
                                verified=verified, duration_s=round(back.duration_s, 3),
                                message=f"split back to {self.opts.old} at 100 %"
                                + ("" if back.ok else f": the split command exited {back.exit_code}"))
        spec = self.profile.rollback
        # a tool error is no evidence against the new version: the code rollback only when rollback.on asks
        may_roll_back = spec is not None and not self.opts.no_rollback and (name != "error" or "error" in spec.on)
        if verified is False and may_roll_back:
            result = self.code_rollback(result)
        self.verdict.rollback = result
        self.verdict.verdict, self.verdict.exit_code = name, EXIT_CODES[name]
        if result.verified is False and name != "error":
            self.verdict.exit_code = EXIT_ROLLBACK_FAILED
        said = {True: ", verified", None: ", not verified: the verification got no evidence either way",
                False: ", NOT verified: a human must act"}[result.verified]
        if name == "error":
            self.verdict.log = self.verdict.log or _log_in(failed_checks)
            broke = "; ".join(f"{c.id}: {c.message}" for c in failed_checks if c.is_tool_error)[:400]
            see = f" (see {self.verdict.log or 'logs/'})" if (self.verdict.log or "logs/") not in broke else ""
            self.verdict.reason = (f"error at step {index} ({step.percent:g} %): synthgate could not judge "
                                   f"{self.opts.new}, not evidence against it: {broke}{see}; split back to "
                                   f"{self.opts.old} at 100 %{said}")
            return
        self.verdict.reason = (f"stopped at step {index} ({step.percent:g} %): "
                               + (why or ", ".join(c.id for c in failed_checks)[:400])
                               + f"; split back to {self.opts.old} at 100 %{said}")

    def cancel(self, cancelled: Cancelled) -> None:
        """A signal or the deadline: split back first, then say why."""
        self.stopping = True
        steps = self.report.steps
        index = len(steps) - 1
        percent = steps[-1].percent if steps else 0
        if steps:
            steps[-1].status = "cancelled"
        if cancelled.verify:  # the deadline: the usual way back, verification included
            step = self.spec.steps[max(0, index)]
            self.stop(max(0, index), step, evidence=True, why=cancelled.why)
            self.report.outcome = "deadline"
            return
        self.report.stopped_at = StoppedAt(step=max(0, index), percent=percent)
        self.report.outcome = "cancelled"
        self.say(f"{cancelled.why}: the split goes back to {self.opts.old} at 100 %")
        back = self.split_back()
        self.verdict.rollback = RollbackResult(triggered=True, command=back.command, exit_code=back.exit_code,
                                               duration_s=round(back.duration_s, 3),
                                               message=f"cancelled ({cancelled.why}): split back to "
                                                       f"{self.opts.old} at 100 %, not verified")
        self.verdict.verdict, self.verdict.exit_code = "inconclusive", cancelled.code
        self.verdict.reason = (f"cancelled at step {max(0, index)} ({percent} %) by {cancelled.why}; split back to "
                               f"{self.opts.old} at 100 %" + ("" if back.ok else
                                                               f" FAILED (exit {back.exit_code}): a human must act"))

    def crashed(self, exc: Exception) -> None:
        """synthgate's own exception mid-rollout: an `error` with its log; the split goes back if traffic moved."""
        self.stopping = True
        log = write_crash_log(self.opts.reports_dir, "synthgate-crash.log", exc)
        check = CheckResult(id="synthgate.internal", status="failed", kind=TOOL_ERROR,
                            message=redactor(f"synthgate itself failed: {exc.__class__.__name__}: {exc} (see {log})"))
        self.verdict.stages.append(StageResult.from_checks("synthgate", [check], 0.0))
        self.report.outcome = "error"
        if self.report.steps:
            self.report.steps[-1].status = "error"
        promoted = self.report.promoted  # every step passed: the new version stays where it is
        moved = bool(self.report.steps) and not promoted  # a split command ran: traffic may have moved
        back = self.split_back() if moved else None
        if back is not None:
            self.verdict.rollback = RollbackResult(triggered=True, command=back.command, exit_code=back.exit_code,
                                                   duration_s=round(back.duration_s, 3),
                                                   message=f"split back to {self.opts.old} at 100 % after "
                                                           "synthgate's own error (no code rollback)")
        self.verdict.verdict, self.verdict.exit_code, self.verdict.log = "error", EXIT_CODES["error"], log
        where = (f"split back to {self.opts.old} at 100 %" + ("" if back.ok else " FAILED: a human must act")
                 if back is not None else f"{self.opts.new} stays promoted" if promoted else "no traffic was moved")
        self.verdict.reason = f"error: {check.message}; not evidence against {self.opts.new}; {where}"

    def write_log(self, name: str, command: list[str], output: str) -> str:
        """A failed command's line and output, redacted, under reports/logs/; its path relative to the reports."""
        rel = f"logs/rollout-{name}"
        path = self.opts.reports_dir / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(redactor(f"$ {' '.join(command)}\n{output}"), encoding="utf-8")
        except OSError:
            return "(the log could not be written)"
        return rel

    def relative(self, path: Path) -> str:
        """A path as the reports name it (relative to the reports dir when inside it)."""
        try:
            return str(path.relative_to(self.opts.reports_dir))
        except ValueError:
            return str(path)

    def split_back(self) -> SplitRun:
        back = split_back(self.spec, self.opts.new, self.opts.old)
        self.report.split_back = back.back_record()
        self.say(f"split back: {' '.join(back.command)} -> exit {back.exit_code} ({back.duration_s:.1f} s)")
        return back

    def verify_old(self) -> bool | None:
        """Smoke checks, unpinned, each answer from the old version: what users meet now. None when they failed
        without evidence (the runner cannot reach the target, answers named no version): nothing is known."""
        self.say(f"verifying that users get {self.opts.old} again (smoke checks)")
        login = auth.gate_login(self.profile, self.base_url, self.opts.reports_dir / "verify", self.opts.progress)
        try:
            stage = self.smoke(self.opts.reports_dir / "verify", self.pin(self.opts.old, with_header=False), "verify")
        finally:
            auth.end()
        self.report.verification = _smoke_record(stage, login_failed=login is not None)
        if stage.status == "passed":
            return True
        return False if any(c.is_evidence_failure for c in stage.failed_checks) else None

    def code_rollback(self, result: RollbackResult) -> RollbackResult:
        spec = self.profile.rollback
        assert spec is not None

        def verify() -> StageResult:
            return self.smoke(self.opts.reports_dir / "verify-rollback", self.pin(self.opts.old, False), "rollback")

        code, _ = rollback.perform(spec, self.profile.name, self.base_url, {}, verify, self.say,
                                   gate_started=_epoch(self.verdict), db=self.opts.history_db)
        code.message = f"{result.message}; not verified, so the code rollback ran: {code.message}"
        return code

    # -- data ------------------------------------------------------------------------------------------------

    def snapshot(self) -> None:
        spec = self.profile.rollback
        assert spec is not None and spec.snapshot is not None
        self.say(f"the release changes data: snapshot first ({' '.join(spec.snapshot)})")
        taken = rollback.take_snapshot(spec, {})
        self.snapshot_taken = taken
        self.report.data.snapshot = taken.model_copy(update={"output": redactor(taken.output)[-2000:]})
        if not taken.ok:
            log = self.write_log("snapshot.log", list(spec.snapshot), taken.output + taken.stderr)
            raise _SnapshotFailed(redactor(f"the snapshot command failed (exit {taken.exit_code}): "
                                           f"{taken.stderr[-300:]}"), log)

    def restore_data(self) -> None:
        data = self.report.data
        if not self.changes_data:
            data.restore = RestoreRun(ran=False, message="the release does not change data: no restore")
            return
        spec = self.profile.rollback
        assert spec is not None
        data.restore = rollback.restore_data(spec, self.snapshot_taken, self.profile.name, self.base_url,
                                             {}, self.say, db=self.opts.history_db)
        self.say(f"data: {data.restore.message}")


class _SnapshotFailed(Exception):
    """The data snapshot could not be taken: the rollout does not start (a tool error, no traffic moved)."""

    def __init__(self, why: str, log: str) -> None:
        super().__init__(why)
        self.log = log


def _log_in(checks: list[CheckResult]) -> str | None:
    """The first log a tool-error check names (logs/...), if any."""
    for check in checks:
        if check.is_tool_error:
            found = next((w.rstrip("):.,;") for w in check.message.split() if "logs/" in w), None)
            if found:
                return found.lstrip("(")
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _epoch(verdict: Verdict) -> float:
    return datetime.fromisoformat(verdict.started_at).timestamp()


def _smoke_record(stage: StageResult, login_failed: bool = False) -> SmokeRun:
    return SmokeRun(status=stage.status, checks=len(stage.checks),
                    failed=[f"{c.id}: {c.message}"[:300] for c in stage.failed_checks],
                    login="failed" if login_failed else None)


def _figures_line(fig: SideBySideFigures) -> str:
    def side(label: str) -> str:
        s = fig.new if label == "new" else fig.old
        return (f"{label} P50 {s.p50_ms} ms, P95 {s.p95_ms} ms, {s.errors} errors of {s.requests}"
                if s.p50_ms is not None else f"{label}: no sample")
    return f"{fig.pairs} pairs in {fig.duration_s:g} s: {side('new')}; {side('old')}"


@contextmanager
def _signals(deadline_s: float) -> Iterator[None]:
    """SIGTERM/SIGINT and the deadline (SIGALRM) raise Cancelled in the main thread, once."""
    fired: list[bool] = []

    def handler(signum: int, _frame: Any) -> None:
        if fired:
            return  # already on the way back: a second signal must not interrupt the split-back
        fired.append(True)
        if signum == signal.SIGALRM:
            raise Cancelled(f"the rollout's deadline ({deadline_s:g} s)", EXIT_FAIL, verify=True)
        raise Cancelled(signal.Signals(signum).name, EXIT_SIGNAL.get(signum, EXIT_FAIL), verify=False)

    saved = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM)}
    signal.setitimer(signal.ITIMER_REAL, deadline_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for s, h in saved.items():
            signal.signal(s, h)


def run_rollout(opts: RolloutOptions) -> Verdict:
    """Run the rollout end to end and write its reports; ProfileError for usage problems (exit 2)."""
    profile, path = load_profile(opts.profile)
    redactor.add_profile(profile)
    spec = profile.rollout
    if spec is None:
        raise ProfileError(f"{path}: rollout: missing: `synthgate rollout` needs a rollout: section "
                           "(steps, set_split, pin)")
    if opts.new == opts.old:
        raise ProfileError(f"--new and --old both name {opts.new!r}: expected two versions")
    base_url, _ = resolve_base_url(opts.base_url, profile)
    if base_url is None:
        raise ProfileError(f"{path}: base_url: none given: pass --base-url (production's URL)")
    changes_data = spec.changes_data if opts.changes_data is None else opts.changes_data
    if changes_data and (profile.rollback is None or profile.rollback.snapshot is None):
        raise ProfileError(f"{path}: rollback.snapshot: required when the release changes data "
                           "(rollout.changes_data or --changes-data): a command whose output rollback.restore uses")
    _deadline.ensure_writable(opts.reports_dir)
    total_s = opts.deadline_s or spec.deadline_s or default_deadline_s(profile, spec)
    clock = time.monotonic()
    verdict = Verdict(verdict="inconclusive", exit_code=EXIT_INCONCLUSIVE, target=profile.name,
                      base_url=mask_url(base_url), started_at=_now(), duration_s=0.0, profile=str(path),
                      release=opts.new)
    report = RolloutReport(
        new=opts.new, old=opts.old, deadline_s=total_s,
        pin=RolloutPin(header=spec.pin.header, value=spec.pin.value),
        version_from=VersionEvidenceSource.model_validate(spec.version_from.model_dump(by_alias=True))
        if spec.version_from else None,
        data=RolloutData(changes_data=changes_data,
                         message="the release changes data: snapshot before, restore on failure" if changes_data
                         else "the release does not change data: no snapshot, no restore"))
    verdict.rollout = report
    run = _Run(opts, profile, path, spec, base_url, verdict, changes_data, clock + total_s, report)
    ci.begin()  # no workflow command from the target's answers until the verdict (see reports/ci.py)
    opts.progress(redactor(f"synthgate rollout: {opts.new} replaces {opts.old} at {verdict.base_url} in "
                           f"{len(spec.steps)} steps ({', '.join(f'{s.percent:g} %' for s in spec.steps)}); "
                           f"deadline {total_s:g} s"))
    try:
        with _signals(total_s):
            try:
                run.run()
            except Cancelled as cancelled:
                run.cancel(cancelled)
            except _SnapshotFailed as exc:  # a tool error before any split: nothing moved, nothing to put back
                report.outcome = "not started"
                verdict.stages.append(StageResult.from_checks("snapshot", [CheckResult(
                    id="data.snapshot", status="failed", kind=TOOL_ERROR, message=f"{exc} (see {exc.log})")], 0.0))
                verdict.verdict, verdict.exit_code, verdict.log = "error", EXIT_CODES["error"], exc.log
                verdict.reason = f"error: not started: {exc} (see {exc.log}); no traffic was moved"
            except Exception as exc:  # noqa: BLE001 - synthgate's own bug mid-way: `error`, the split goes back
                run.crashed(exc)
    except Cancelled as late:  # a signal during the way back itself: the split-back ran or runs once more
        run.cancel(late)
    finally:
        verdict.duration_s = round(time.monotonic() - clock, 3)
        reports.write_all(verdict, opts.reports_dir)
        scrub_reports(opts.reports_dir)
    ci.emit(verdict, opts.reports_dir)  # the rollout's verdict as the CI's step summary, outputs, annotations
    opts.progress(redactor(f"synthgate rollout: {verdict.reason}"))
    return verdict
