"""The one result model: every stage produces it, the gate decides on it, every report reads it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

# "accepted": failed, but a profile `accept:` entry sets that defect aside until its date (neither pass nor fail)
CheckStatus = Literal["passed", "failed", "skipped", "accepted"]
StageStatus = Literal["passed", "failed", "skipped"]
VerdictName = Literal["pass", "fail", "inconclusive", "error"]

# Why a check failed. "unreachable" (no DNS answer, no TCP connection within the timeout) and
# "no-data" (nothing was measured) are not evidence against the deployment: on their own they
# make the verdict inconclusive. "tool-error" (a stage or suite that crashed, a pytest internal or collection
# error, a broken fixture or conftest, an exception in synthgate's own code) is not evidence either: on its own
# it makes the verdict `error`. Everything else the deployment answered is evidence.
FailureKind = Literal["assertion", "unreachable", "no-data", "error", "regression", "tool-error"]
TOOL_ERROR = "tool-error"
NOT_EVIDENCE: frozenset[str] = frozenset({"unreachable", "no-data", TOOL_ERROR})

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_ROLLBACK_FAILED = 3
EXIT_INCONCLUSIVE = 4
EXIT_ERROR = 5
EXIT_CODES: dict[str, int] = {"pass": EXIT_PASS, "fail": EXIT_FAIL, "inconclusive": EXIT_INCONCLUSIVE,
                              "error": EXIT_ERROR}


# what crosses a process boundary (a stage child's result lines) is validated strictly: a misspelled key fails
WIRE = ConfigDict(extra="forbid")


def utc_now() -> str:
    """The current time as an ISO-8601 UTC string."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Traffic(BaseModel):
    """What a check or a stage sent, and how many answers were a 5xx (the gate's server-error budget)."""

    model_config = WIRE
    sent: int = 0
    server_errors: int = 0


class AttemptRecord(BaseModel):
    """One attempt of a retried check, as the reports list it."""

    model_config = WIRE
    attempt: int
    ok: bool
    message: str = ""
    kind: str | None = None
    status: int | None = None  # the last answer's HTTP status
    requests: int = 0
    server_errors: int = 0
    duration_ms: float = 0.0
    curl: str | None = None


class AcceptanceNote(BaseModel):
    """The profile `accept:` entry that set a failed check aside, or whose date passed (synthgate/accept.py)."""

    model_config = WIRE

    check: str  # the entry's id or glob
    reason: str
    until: str  # ISO date


class DebtNote(BaseModel):
    """A `new_only` check's findings split into new ones and existing debt (synthgate/debt.py)."""

    model_config = WIRE

    existing: list[Any] = Field(default_factory=list)
    new: list[Any] = Field(default_factory=list)
    first_run: bool = False  # no previous release to compare with: every finding is the starting debt


class CheckResult(BaseModel):
    """The outcome of one check (one pytest test, one journey step, one threshold, one property).

    A stage's pytest child writes it as one JSON line (`to_line`) and the gate reads it back (`from_line`): this
    model is the one schema from the check to the report, and an unknown key is an error, never dropped.
    """

    model_config = WIRE
    id: str
    status: CheckStatus
    message: str = ""
    attempts: int = 1
    duration_ms: float = 0.0
    flaky: bool = False  # failed at least once, then passed: reported apart, does not fail the gate
    kind: FailureKind | None = None
    curl: str | None = None  # a command that reproduces the failure, secrets redacted
    evidence: list[str] = Field(default_factory=list)  # artefact paths relative to the reports dir
    traffic: Traffic | None = None
    attempts_detail: list[AttemptRecord] = Field(default_factory=list)  # when retried, or failed
    warnings: list[str] = Field(default_factory=list)  # passed, with findings set to `warn` (never fail the gate)
    contract_drift: bool = False  # failed only where the app departs from its runbook's contract
    unverifiable: bool = False  # the answer says this could not be verified from here (a no-data failure)
    details: dict[str, Any] = Field(default_factory=dict)  # what one check kind alone reports (free form)

    @model_validator(mode="after")
    def _flaky_only_when_passed(self) -> CheckResult:
        # the one place "flaky" is decided: retried and passed; a check that failed in the end is not flaky
        if self.flaky and self.status != "passed":
            self.flaky = False
        return self

    def to_line(self) -> str:
        """This result as one JSON line of a stage's results file."""
        return self.model_dump_json() + "\n"

    @classmethod
    def from_line(cls, line: str) -> CheckResult:
        """A result line written by `to_line` (pydantic.ValidationError on anything else, misspelled keys too)."""
        return cls.model_validate_json(line)

    # the notes other modules write into `details` (verdict.json keeps them there), read back as typed models
    @property
    def acceptance(self) -> AcceptanceNote | None:
        """The `accept:` entry that set this failure aside (status `accepted`), if any."""
        note = self.details.get("accepted")
        return AcceptanceNote.model_validate(note) if note else None

    @property
    def expired_acceptance(self) -> AcceptanceNote | None:
        """The `accept:` entry whose date passed: this check fails again."""
        note = self.details.get("acceptance_expired")
        return AcceptanceNote.model_validate(note) if note else None

    @property
    def debt(self) -> DebtNote | None:
        """This `new_only` check's findings split into new ones and existing debt, if it was judged so."""
        note = self.details.get("debt")
        return DebtNote.model_validate(note) if note else None

    # the keys of `details` another module reads (the kind that writes them documents them), typed once here
    @property
    def findings(self) -> list[str]:
        """A findings-style check's findings, one stable key each (hygiene, links, a11y): what `new_only` compares."""
        found = self.details.get("findings")
        return [str(f) for f in found] if isinstance(found, list) else []

    @property
    def load_task(self) -> str | None:
        """The load task (`METHOD /path`) a per-task threshold check judged."""
        task = self.details.get("task")
        return task if isinstance(task, str) else None

    @property
    def measured(self) -> float | None:
        """The figure a threshold check measured (a load percentile in ms, a rate)."""
        value = self.details.get("measured")
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    @property
    def unmeasurable(self) -> bool:
        """True when a load threshold could not be measured at all (no requests of its kind)."""
        return bool(self.details.get("unmeasurable"))

    @property
    def a11y_rules_failing(self) -> list[str]:
        """The axe-core rules an accessibility check failed on."""
        rows = self.details.get("a11y_failing")
        return [str(r["rule"]) for r in rows if isinstance(r, dict) and r.get("rule")] if isinstance(rows, list) else []

    @property
    def broken_properties(self) -> list[str]:
        """The properties a fuzz check found broken (synthgate.fuzz.report writes them)."""
        names = self.details.get("properties")
        return [str(n) for n in names] if isinstance(names, list) else []

    @property
    def shrunk(self) -> bool:
        """True when a fuzz check's curl is Hypothesis' minimal example (not one cut short by the time budget)."""
        return self.details.get("shrunk") is True

    @property
    def is_flaky(self) -> bool:
        """True when this check passed only after a retry (reported apart, never fails the gate)."""
        return self.flaky and self.status == "passed"

    @property
    def is_evidence_failure(self) -> bool:
        """True when this check failed on something the deployment itself answered."""
        return self.status == "failed" and (self.kind or "assertion") not in NOT_EVIDENCE

    @property
    def is_tool_error(self) -> bool:
        """True when this check failed because synthgate or the team's test code broke (not the deployment)."""
        return self.status == "failed" and self.kind == TOOL_ERROR


class StageResult(BaseModel):
    """All checks of one stage."""

    name: str
    status: StageStatus
    duration_s: float = 0.0
    checks: list[CheckResult] = Field(default_factory=list)
    message: str = ""
    traffic: Traffic | None = None  # the stage's own total (load), else its checks' sum counts
    # the load stage's figures (verdict.load) and raw samples (load/samples.json): kept out of the stage's JSON
    load: LoadSummary | None = Field(default=None, exclude=True)
    samples_ms: dict[str, list[float]] = Field(default_factory=dict, exclude=True)
    histograms: dict[str, Any] = Field(default_factory=dict, exclude=True)
    details: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def skipped(cls, name: str, why: str) -> StageResult:
        """A stage that did not run."""
        return cls(name=name, status="skipped", message=why)

    @classmethod
    def from_checks(
        cls, name: str, checks: list[CheckResult], duration_s: float, **extra: Any
    ) -> StageResult:
        """A stage whose status follows from its checks; no check at all is a failure (no data)."""
        if not checks:
            checks = [
                CheckResult(
                    id=f"{name}.executed-checks",
                    status="failed",
                    kind="no-data",
                    message=f"inconclusive: the {name} stage executed no check",
                )
            ]
        failed = any(c.status == "failed" for c in checks)
        return cls(
            name=name,
            status="failed" if failed else "passed",
            duration_s=round(duration_s, 3),
            checks=checks,
            **extra,
        )

    @property
    def failed_checks(self) -> list[CheckResult]:
        """The checks of this stage that failed."""
        return [c for c in self.checks if c.status == "failed"]

    def settle(self) -> None:
        """Re-derive the status from the checks (after acceptances or debt turned failures into non-failures)."""
        if self.status != "skipped" or self.checks:
            self.status = "failed" if self.failed_checks else "passed"


class RequestStats(BaseModel):
    """One request name's figures in the load stage (synthgate.loadgen.runner), with its task's limits and checks."""

    model_config = WIRE

    method: str = ""
    requests: int = 0
    failures: int = 0
    samples: int = 0
    error_rate: float | None = None
    rps: float | None = None
    mean_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    thresholds: dict[str, float] | None = None  # the task's limits (a request name of a declared task only)
    checks: dict[str, CheckStatus] | None = None  # the task's checks: id -> status

    @model_serializer(mode="wrap")
    def _without_absent_limits(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # a request name no declared task owns has no limits: the keys stay absent in verdict.json, as before
        data: dict[str, Any] = handler(self)
        for key in ("thresholds", "checks"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class HistoryPoint(BaseModel):
    """One second of the load run: requests and failures counted in it (for the throughput chart)."""

    model_config = WIRE

    t: int  # seconds since the first second with a request
    requests: int = 0
    failures: int = 0


class LoadSummary(BaseModel):
    """Headline figures of the load stage."""

    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    error_rate: float | None = None
    rps: float | None = None
    requests: int = 0
    thresholds: dict[str, float] = Field(default_factory=dict)
    percentiles: dict[str, float] = Field(default_factory=dict)
    per_request: dict[str, RequestStats] = Field(default_factory=dict)
    history: list[HistoryPoint] = Field(default_factory=list)  # throughput over time, for charts
    notes: list[str] = Field(default_factory=list)


class BaselineMetric(BaseModel):
    """One metric compared with the baseline (synthgate.baseline.MetricDecision.metric): before, after, test."""

    model_config = WIRE

    name: str
    kind: Literal["latency", "error_rate"]
    # latency: n, p50_ms, p95_ms; error rate: requests, errors, error_rate
    before: dict[str, int | float] = Field(default_factory=dict)
    after: dict[str, int | float] = Field(default_factory=dict)
    change: str = ""
    statistic: float | None = None
    p_value: float | None = None
    decision: Literal["regression", "no regression"]
    reason: str = ""


class BaselineComparison(BaseModel):
    """verdict.json's `baseline` block: what this run was compared with and what changed (synthgate.baseline)."""

    model_config = WIRE

    release: str | None = None
    source: str = "last passing run"
    started_at: str | None = None
    metrics: list[BaselineMetric] = Field(default_factory=list)
    regressions: list[str] = Field(default_factory=list)  # failed checks that passed in the baseline
    pre_existing: list[str] = Field(default_factory=list)  # failed checks that failed in the baseline too
    summary: str = ""
    config: dict[str, Any] = Field(default_factory=dict)  # the profile's `baseline:` section as it was applied


class StaleAcceptance(BaseModel):
    """A profile `accept:` entry that matched no failing check in this run (synthgate/accept.py)."""

    model_config = WIRE

    check: str
    reason: str
    until: str
    note: str = ""


class DebtCount(BaseModel):
    """One `new_only` check's findings: how many are existing debt, how many new."""

    model_config = WIRE

    stage: str
    check: str
    existing: int = 0
    new: int = 0


class DebtSummary(BaseModel):
    """verdict.json's `debt` block: what `new_only` findings were compared with, and the debt per check."""

    model_config = WIRE

    compared_with: str | None = None
    release: str | None = None
    first_run: bool = False
    existing: int = 0
    new: int = 0
    checks: list[DebtCount] = Field(default_factory=list)


class RollbackResult(BaseModel):
    """What the rollback did."""

    triggered: bool = False
    command: list[str] | None = None
    exit_code: int | None = None
    verified: bool | None = None
    duration_s: float | None = None
    message: str = ""
    output: str = ""


class ReleaseWait(BaseModel):
    """How long the gate waited for the new release to be live, and whether it went live."""

    expected: str
    origin: str = ""  # --expect-release, $GITHUB_SHA, the embedded target's release
    source: str = ""  # where the marker was read
    live: bool
    readable: bool = True  # False: the marker could not be read (error answers), the stages judged anyway
    waited_s: float
    polls: int = 0
    consecutive: int = 1
    last_seen: str | None = None
    message: str = ""

    def summary(self) -> str:
        """One line for the reports."""
        if self.live:
            return (f"release {self.expected} live after {self.waited_s:.1f} s "
                    f"({self.consecutive} answer(s) in a row, {self.polls} polls)")
        return self.message


# -- synthgate rollout: verdict.json's `rollout` block (README "Progressive delivery", Reports) ------------------

RolloutOutcome = Literal["running", "promoted", "stopped", "cancelled", "deadline", "error", "not started"]
RolloutStepStatus = Literal["running", "passed", "failed", "cancelled", "error"]


class _Sparse(BaseModel):
    """A block whose optional keys are absent from verdict.json until the rollout writes them (never a null)."""

    model_config = WIRE
    ABSENT_WHEN_NONE: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _without_unwritten(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in self.ABSENT_WHEN_NONE:
            if data.get(key) is None:
                data.pop(key, None)
        return data


class RolloutPin(BaseModel):
    """The profile's pin template: the header, and its value holding {version}."""

    model_config = WIRE

    header: str
    value: str


class VersionEvidenceSource(BaseModel):
    """Where each answer names the version that served it (the profile's rollout.version_from), as it wrote it."""

    model_config = WIRE

    header: str | None = None
    json_field: str | None = Field(default=None, alias="json")

    @model_serializer(mode="plain")
    def _as_the_profile_names_it(self) -> dict[str, str]:
        return {key: value for key, value in (("header", self.header), ("json", self.json_field)) if value is not None}


class SplitRecord(BaseModel):
    """One run of the split command (a step's `split`)."""

    model_config = WIRE

    new_percent: int | float
    command: list[str]
    exit_code: int | None  # None: timed out
    duration_s: float
    output: str  # its last 1,000 characters


class SplitBack(SplitRecord):
    """The way back: the split command run with the old version at 100 %."""

    ok: bool


class StepGate(_Sparse):
    """Step 0: the whole gate run against production pinned to the new version."""

    ABSENT_WHEN_NONE = ("log",)
    verdict: VerdictName
    exit_code: int
    reason: str
    reports: str  # the gate's own full reports, relative to the rollout's (step-0/)
    pinned_to: str
    log: str | None = None  # the log to read when the gate's verdict is `error`


class SmokeRun(_Sparse):
    """One smoke run pinned to a version (a step's `smoke`), or unpinned after the split back (`verification`)."""

    ABSENT_WHEN_NONE = ("login",)
    status: StageStatus
    checks: int
    failed: list[str] = Field(default_factory=list)  # each failed check with its message
    login: Literal["failed"] | None = None  # verification only: the login before it failed


class StepSmoke(_Sparse):
    """A traffic step's smoke runs: pinned to the new version, then (when compared) to the old one."""

    ABSENT_WHEN_NONE = ("old",)
    new: SmokeRun
    old: SmokeRun | None = None


class VersionFigures(BaseModel):
    """One version's side of a side-by-side phase."""

    model_config = WIRE

    requests: int
    errors: int
    wrong_version: int  # answers another version served: counted, never used as samples
    p50_ms: float | None  # None: no sample
    p95_ms: float | None


class SideBySideFigures(BaseModel):
    """A traffic step's side-by-side phase: how many request pairs, how long, and each version's figures."""

    model_config = WIRE

    pairs: int
    duration_s: float
    new: VersionFigures
    old: VersionFigures


class RolloutComparison(BaselineMetric):
    """One comparison of a traffic step (latency or error rate, per task and over `all tasks`): old is before."""

    task: str

    @model_serializer(mode="wrap")
    def _task_first(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {"task": data.pop("task"), **data}


class RolloutStepReport(_Sparse):
    """One step run: its split, what judged it (the pinned gate, or smoke and the side-by-side comparison)."""

    ABSENT_WHEN_NONE = ("split", "gate", "smoke", "side_by_side", "comparisons", "duration_s", "failed")
    step: int
    percent: int | float
    hold_s: float
    status: RolloutStepStatus
    started_at: str
    split: SplitRecord | None = None
    gate: StepGate | None = None  # step 0
    smoke: StepSmoke | None = None  # traffic steps
    side_by_side: SideBySideFigures | None = None
    comparisons: list[RolloutComparison] | None = None
    duration_s: float | None = None  # absent: the step never finished (cancelled, crashed)
    failed: list[str] | None = None  # each failed check with its message


class StoppedAt(BaseModel):
    """The step that failed or was cancelled."""

    model_config = WIRE

    step: int
    percent: int | float


class SnapshotRun(BaseModel):
    """The data snapshot taken before the release (rollback.snapshot); its output feeds the restore."""

    model_config = WIRE

    command: list[str]
    exit_code: int | None
    output: str
    stderr: str
    duration_s: float
    ok: bool


class RestoreRun(BaseModel):
    """The data restore after a failure (rollback.restore with the snapshot): what ran, or why it did not."""

    model_config = WIRE

    ran: bool
    command: list[str] | None = None
    exit_code: int | None = None  # None when it ran: timed out
    ok: bool | None = None
    duration_s: float | None = None
    output: str | None = None
    message: str

    @model_serializer(mode="wrap")
    def _only_what_ran(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return data if self.ran else {"ran": data["ran"], "message": data["message"]}


class RolloutData(_Sparse):
    """What happened to the data: whether the release changes it, the snapshot and the restore."""

    ABSENT_WHEN_NONE = ("snapshot", "restore")
    changes_data: bool
    message: str
    snapshot: SnapshotRun | None = None
    restore: RestoreRun | None = None


class RolloutReport(_Sparse):
    """verdict.json's `rollout` block: the steps, where it stopped, the way back, the data."""

    ABSENT_WHEN_NONE = ("recorded_as_last_good",)
    new: str
    old: str
    outcome: RolloutOutcome = "running"
    promoted: bool = False
    stopped_at: StoppedAt | None = None  # None: promoted (or still running)
    deadline_s: int | float
    pin: RolloutPin
    version_from: VersionEvidenceSource | None = None
    steps: list[RolloutStepReport] = Field(default_factory=list)
    split_back: SplitBack | None = None
    verification: SmokeRun | None = None
    data: RolloutData
    recorded_as_last_good: bool | None = None  # written once a promoted release is in the run history


class Verdict(BaseModel):
    """The whole outcome of one gate run: what verdict.json holds."""

    verdict: VerdictName
    exit_code: int
    target: str
    base_url: str
    started_at: str
    duration_s: float
    profile: str = ""
    release: str | None = None
    stages: list[StageResult] = Field(default_factory=list)
    load: LoadSummary | None = None
    rollback: RollbackResult = Field(default_factory=RollbackResult)
    baseline: BaselineComparison | None = None
    release_wait: ReleaseWait | None = None  # --expect-release: the wait for the new release to be live
    rollout: RolloutReport | None = None  # synthgate rollout: steps, comparisons, where it stopped (README)
    reason: str = ""
    # profile `accept:` entries that matched no failing check in this run (the defect is gone: clean them up)
    stale_acceptances: list[StaleAcceptance] = Field(default_factory=list)
    # findings judged `new_only`: what the comparison was made with, and the existing debt (see synthgate/debt.py)
    debt: DebtSummary | None = None
    # the stages this run ran out of every stage its profile declares: only a complete run becomes a baseline
    complete: bool = True
    ran: list[str] | None = None  # the stages this run was asked to run (None: written before synthgate recorded it)
    log: str | None = None  # the log to read when the verdict is `error` (relative to the reports dir)
    synthgate_version: str = "0.1.0"

    def all_checks(self) -> list[tuple[str, CheckResult]]:
        """Every check with its stage name, in run order."""
        return [(s.name, c) for s in self.stages for c in s.checks]

    def failed_checks(self) -> list[tuple[str, CheckResult]]:
        """Every failed check with its stage name."""
        return [(s, c) for s, c in self.all_checks() if c.status == "failed"]

    def accepted_checks(self) -> list[tuple[str, CheckResult]]:
        """Every failure set aside by an `accept:` entry still in force."""
        return [(s, c) for s, c in self.all_checks() if c.status == "accepted"]

    def tool_errors(self) -> list[tuple[str, CheckResult]]:
        """Every check that failed because synthgate or the team's test code broke."""
        return [(s, c) for s, c in self.all_checks() if c.is_tool_error]

    def debt_checks(self) -> list[tuple[str, CheckResult]]:
        """Every check whose findings are (partly) existing debt, not failing the gate (see synthgate/debt.py)."""
        return [(s, c) for s, c in self.all_checks() if c.debt is not None]

    def flaky_checks(self) -> list[tuple[str, CheckResult]]:
        """Every check that passed only after a retry."""
        return [(s, c) for s, c in self.all_checks() if c.is_flaky]

    def dump(self) -> str:
        """verdict.json text."""
        return json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False)

    @classmethod
    def load_file(cls, path: Path) -> Verdict:
        """Read a saved verdict.json."""
        return cls.model_validate_json(path.read_text(encoding="utf-8"))


def decide(stages: list[StageResult]) -> VerdictName:
    """pass, fail, error or inconclusive from the stages' checks (rollback and baseline aside).

    Evidence first: any failure the deployment itself answered is `fail`, even beside a tool error (the defect is
    real whatever else broke). Else a tool error (synthgate's or the team's test code) is `error`; else a failure
    without evidence (unreachable, no data), or no stage run at all, is `inconclusive`. Accepted failures and
    existing debt are not failures here.
    """
    checks = [c for s in stages for c in s.checks]
    if any(c.is_evidence_failure for c in checks):
        return "fail"
    if any(c.is_tool_error for c in checks):
        return "error"
    if any(c.status == "failed" for c in checks) or not any(s.status != "skipped" for s in stages):
        return "inconclusive"
    return "pass"
