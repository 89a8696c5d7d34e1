"""The outcome of one attempt of a check, and the retry loop that turns attempts into a result.

Retries are for transport blips only (connection refused or reset, timeout before the first byte, DNS):
whatever the deployment answered, a 5xx included, is evidence and is never retried away.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from synthgate import version_pin
from synthgate.http import Exchange
from synthgate.redact import redactor
from synthgate.results import AttemptRecord, CheckResult


@dataclass
class Outcome:
    """One attempt: passed or not, why, and the exchanges that show it."""

    ok: bool
    message: str = ""
    kind: str | None = None  # failure kind (see results.FailureKind)
    exchanges: list[Exchange] = field(default_factory=list)
    curl: str | None = None
    # may this failed attempt be repeated? None: yes exactly when its last request got no answer (transport)
    retryable: bool | None = None
    duration_ms: float = 0.0
    contract_drift: bool = False  # failed only where the app departs from its runbook (checks.contract)
    unverifiable: bool = False  # the answer says this cannot be verified from here (checks.contract)
    details: dict[str, Any] = field(default_factory=dict)  # the notes of either (checks.contract)

    def __post_init__(self) -> None:
        if self.retryable is None:
            self.retryable = (not self.ok) and bool(self.exchanges) and self.exchanges[-1].response is None

    @classmethod
    def from_failures(cls, failures: list[str], exchanges: list[Exchange], kind: str = "assertion",
                      retryable: bool | None = None) -> Outcome:
        """Passed when no failure was found; else the failures joined, with the last request as curl."""
        if not failures:
            return cls(ok=True, message="ok", exchanges=exchanges)
        return cls(ok=False, message="; ".join(failures), kind=kind, exchanges=exchanges,
                   curl=exchanges[-1].curl() if exchanges else None, retryable=retryable)

    @property
    def server_errors(self) -> int:
        """How many of this attempt's requests the deployment answered with a 5xx."""
        return sum(1 for ex in self.exchanges if ex.status is not None and ex.status >= 500)

    def summary(self, n: int) -> AttemptRecord:
        """This attempt as one entry of a check's `attempts_detail` (messages are redacted by the writer)."""
        last = self.exchanges[-1] if self.exchanges else None
        return AttemptRecord(attempt=n, ok=self.ok, message=self.message, kind=None if self.ok else self.kind,
                             status=last.status if last is not None else None, requests=len(self.exchanges),
                             server_errors=self.server_errors, duration_ms=round(self.duration_ms, 1),
                             curl=None if self.ok else self.curl)


@dataclass
class Attempted:
    """All attempts of a check."""

    final: Outcome
    attempts: int
    duration_ms: float
    history: list[Outcome]

    @property
    def flaky(self) -> bool:
        """Failed on transport at least once, then passed (a 5xx is never retried, so never 'flaky')."""
        return self.final.ok and self.attempts > 1

    @property
    def first_failure(self) -> Outcome | None:
        """The first failing attempt: its message is the check's (a retry may fail for a different reason)."""
        return next((o for o in self.history if not o.ok), None)

    @property
    def message(self) -> str:
        """The check's message: 'ok', or the first failing attempt's message when the check failed."""
        if self.final.ok:
            return self.final.message or "ok"
        first = self.first_failure or self.final
        if len(self.history) > 1 and first is not self.final and first.message != self.final.message:
            return f"{first.message} (attempt 1 of {self.attempts}; the last attempt: {self.final.message})"
        return first.message

    @property
    def server_errors(self) -> int:
        """5xx answers over every attempt."""
        return sum(o.server_errors for o in self.history)

    @property
    def requests(self) -> int:
        """Requests sent over every attempt."""
        return sum(len(o.exchanges) for o in self.history)

    def attempts_detail(self) -> list[AttemptRecord]:
        """Every attempt in order, for the report."""
        return [o.summary(n) for n, o in enumerate(self.history, 1)]


def result_of(check_id: str, tried: Attempted, failure_prefix: str = "") -> CheckResult:
    """The one mapping from a check's attempts to its result, for every producer (the smoke plugin, the login, the
    gate's preflight, the probes): status, kind and curl of the first failing attempt, flaky, every attempt when
    retried or failed, the last answer's status and latency; messages and curl redacted."""
    final = tried.final
    first = tried.first_failure
    shown = first or final  # the first failing attempt tells why: a retry may fail for another reason
    details: dict[str, Any] = {}
    if final.exchanges:
        details = {"status": final.exchanges[-1].status, "latency_ms": round(final.exchanges[-1].duration_ms, 2)}
    details.update(final.details)  # the notes of drift or of an unverifiable answer (synthgate.checks.contract)
    records = []
    if tried.attempts > 1 or first is not None:
        records = [a.model_copy(update={"message": redactor(a.message), "curl": redactor(a.curl) if a.curl else None})
                   for a in tried.attempts_detail()]
    return CheckResult(
        id=check_id, status="passed" if final.ok else "failed",
        message=redactor(tried.message if final.ok else failure_prefix + tried.message),
        attempts=tried.attempts, duration_ms=round(tried.duration_ms, 1), flaky=tried.flaky,
        kind=None if final.ok else (shown.kind or final.kind or "assertion"),  # type: ignore[arg-type]
        curl=redactor(shown.curl) if not final.ok and shown.curl else None,
        attempts_detail=records, contract_drift=final.contract_drift, unverifiable=final.unverifiable,
        details=details)


def pinned_evidence(outcome: Outcome) -> Outcome:
    """With requests pinned to a version (synthgate.version_pin), an answer from another version makes the attempt
    `no-data` whatever it showed: it is no evidence about the pinned version (retried: a stale edge may heal)."""
    for ex in outcome.exchanges:
        why = version_pin.mismatch(ex.response)
        if why is not None:
            return Outcome(ok=False, message=why, kind="no-data", exchanges=outcome.exchanges, curl=ex.curl(),
                           retryable=True, duration_ms=outcome.duration_ms)
    return outcome


def run_with_retries(attempt: Callable[[], Outcome], retries: int, backoff_s: float) -> Attempted:
    """Run an attempt until it passes, fails on an answer (not retryable), or retries run out; backoff between."""
    history: list[Outcome] = []
    start = time.perf_counter()
    for n in range(retries + 1):
        if n:
            time.sleep(backoff_s * (2 ** (n - 1)))
        began = time.perf_counter()
        outcome = attempt()
        outcome.duration_ms = (time.perf_counter() - began) * 1000
        history.append(outcome)
        if outcome.ok or not outcome.retryable:
            break
    return Attempted(final=history[-1], attempts=len(history),
                     duration_ms=(time.perf_counter() - start) * 1000, history=history)
