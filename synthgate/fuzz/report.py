"""A finished fuzz test as its check's result: the details, the message with each failure's curl reproduction,
and the evidence files (reports/fuzz/<check>.txt and the failing exchange as a HAR)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NoReturn, Protocol

from hypothesis.errors import FlakyFailure, FlakyStrategyDefinition, Unsatisfiable

from synthgate import version_pin
from synthgate.fuzz.findings import Failure, PropertyBroken, TestRun
from synthgate.redact import redactor
from synthgate.reports.har import write_exchanges  # the shrunk failing example as a HAR (reports/har/)

MESSAGE_CURL_LIMIT = 1_500  # the message quotes the curl line up to this; the check's curl field has all of it
# pinned to a version (synthgate rollout): above this share of answers from another version a test is no data (as
# the load stage's MAX_WRONG_VERSION_SHARE); below it the other version's answers are left out, the rest judged
MAX_WRONG_VERSION_SHARE = 0.05


class CheckRecorder(Protocol):
    """Where a test's result fields go: the plugin's `sg` fixture (synthgate.plugin.Recorder)."""

    def set(self, **values: Any) -> None:
        """Attach fields of the check's CheckResult."""


def fail_check(message: str) -> NoReturn:
    """Fail the running check with `message` (no traceback: the message says it all)."""
    import pytest

    pytest.fail(message, pytrace=False)


def report(run: TestRun, outcome: BaseException | None, sg: CheckRecorder, reports_dir: Path | None) -> None:
    """Turn a finished test (its counters, coverage and the Hypothesis outcome) into its check's result."""
    details: dict[str, Any] = {"examples": run.examples, "requests": run.requests, "seed": run.seed}
    if run.throttled:
        details["throttled_429"] = run.throttled
    if run.budget_cut:
        details["budget_cut"] = True
    cov = run.coverage
    if cov is not None:
        details["coverage"] = {"cases": cov.planned, "sent": cov.sent, "classes": len(cov.classes),
                               "seconds": round(cov.seconds, 3), "complete": not cov.cut,
                               "failures": len(cov.failures), "latency_blips": cov.latency_blips}
    if run.known_seen:
        details["known_failures_met_again"] = run.known_seen
    duration_ms = round((time.monotonic() - run.started) * 1000, 1)
    failures = list(cov.failures) if cov is not None else []
    if run.wrong_version:
        details.update(wrong_version=run.wrong_version, pinned_to=getattr(version_pin.active(), "version", None))
        found = failures or (isinstance(outcome, PropertyBroken) and run.failure is not None)
        gave_up = isinstance(outcome, Unsatisfiable | FlakyStrategyDefinition)  # on the rejected examples
        if not found and (gave_up or wrong_share(run) > MAX_WRONG_VERSION_SHARE):
            # what was judged is too little of what was sent to say anything about the pinned version
            sg.set(id=run.check_id, duration_ms=duration_ms, details=details, kind="no-data")
            fail_check(redactor(f"no evidence about the pinned version: {run.wrong_version} of "
                                f"{run.wrong_version + run.requests} answers came from another version "
                                f"({run.wrong_version_why})"))
    if failures and (outcome is None or isinstance(outcome, PropertyBroken | FlakyFailure)):
        if isinstance(outcome, PropertyBroken) and run.failure is not None:
            failures.append(run.failure)  # a new defect found by the random phase, after the coverage ones
        _report_failures(run, failures, details, duration_ms, sg, reports_dir)
        return
    if cov is not None and cov.cut and outcome is None:
        sg.set(id=run.check_id, duration_ms=duration_ms, details=details, kind="no-data")
        fail_check(f"the coverage phase did not finish: {cov.sent} of {cov.planned} cases sent before the stage's "
                   "time budget ran out (raise fuzz.max_time_s or fuzz.concurrency)")
    if outcome is None:
        sg.set(id=run.check_id, duration_ms=duration_ms, details=details)
        return
    failure = run.failure
    if isinstance(outcome, FlakyFailure) and failure is not None:
        # failed once, then passed on replay: intermittent (a blip, or load), reported apart like a retry
        details.update(intermittent=failure.message, intermittent_properties=failure.properties,
                       curl=failure.curl)
        sg.set(id=run.check_id, duration_ms=duration_ms, details=details, flaky=True, attempts=2)
        return
    if failure is None or not isinstance(outcome, PropertyBroken):
        message = redactor(f"the fuzz test itself failed: {outcome.__class__.__name__}: {outcome}"[:2000])
        sg.set(id=run.check_id, duration_ms=duration_ms, details=details, kind="error")
        fail_check(message)
    evidence = write_evidence(reports_dir, run.check_id, failure)
    details.update(properties=failure.properties, shrunk=not run.budget_cut)
    curl = failure.curl
    quoted = curl if len(curl) <= MESSAGE_CURL_LIMIT else curl[:MESSAGE_CURL_LIMIT] + " ... (full command in curl)"
    minimal = "smallest example found before the time budget ran out" if run.budget_cut else "minimal example"
    message = (f"property {', '.join(failure.properties)} broken: {failure.message} "
               f"[{minimal}, {run.examples} examples; seed {run.seed}]\nreproduce: {quoted}")
    sg.set(id=run.check_id, duration_ms=duration_ms, details=details, kind=failure.kind, curl=curl,
           evidence=evidence)
    fail_check(redactor(message))


def wrong_share(run: TestRun) -> float:
    """The share of the test's answers another version served (pinned)."""
    return run.wrong_version / max(1, run.wrong_version + run.requests)


def _report_failures(run: TestRun, failures: list[Failure], details: dict[str, Any], duration_ms: float,
                     sg: CheckRecorder, reports_dir: Path | None) -> NoReturn:
    """Every distinct failure of one test, each with its own curl repro and evidence file."""
    evidence: list[str] = []
    listed: list[dict[str, Any]] = []
    lines: list[str] = []
    for n, failure in enumerate(failures, 1):
        evidence += write_evidence(reports_dir, run.check_id if n == 1 else f"{run.check_id}-{n}", failure)
        listed.append({"properties": failure.properties, "status": failure.exchange.status,
                       "input_class": failure.input_class or "random", "phase": failure.phase,
                       "message": failure.message[:500], "curl": failure.curl})
        curl = failure.curl
        quoted = curl if len(curl) <= MESSAGE_CURL_LIMIT else curl[:MESSAGE_CURL_LIMIT] + " ... (full command in " \
            f"details.failures[{n - 1}].curl)"
        lines.append(f"({n}) property {', '.join(failure.properties)} broken: {failure.message}\n"
                     f"    reproduce: {quoted}")
    details.update(failures=listed, properties=sorted({p for f in failures for p in f.properties}))
    head = (f"{len(failures)} distinct failure(s) (by property, answer and input class) "
            f"[{run.examples} random examples after the coverage phase; seed {run.seed}]")
    sg.set(id=run.check_id, duration_ms=duration_ms, details=details, kind=failures[0].kind,
           curl=failures[0].curl, evidence=evidence)
    fail_check(redactor(head + "\n" + "\n".join(lines)))


def write_evidence(reports_dir: Path | None, check_id: str, failure: Failure) -> list[str]:
    """Write a failure's message, curl and exchange (reports/fuzz/<check>.txt) and its HAR; their paths under
    the reports folder (none without one)."""
    if reports_dir is None:
        return []
    rel = Path("fuzz") / f"{check_id}.txt"
    path = reports_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    text = f"{failure.message}\n\nreproduce:\n{failure.curl}\n\n{failure.exchange.describe(limit=4000)}\n"
    path.write_text(redactor(text), encoding="utf-8")

    har = write_exchanges(reports_dir, check_id, [failure.exchange])
    return [str(rel)] + ([har] if har else [])
