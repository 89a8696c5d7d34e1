"""The server-error budget: every 5xx the deployment answered, anywhere in the gate, against every request sent.

A 5xx is the deployment answering, so it is never retried away; a check that still passed after one (its expected
statuses allowed it, or a journey's retry went through) is reported apart from transport flakes. The budget
(`defaults.max_server_error_rate`) is over all requests the gate sent: this process's (preflight, release
marker) and those each stage's child process reports back (each check's `traffic`, or the stage's own for load).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from synthgate import http, run_state
from synthgate.results import CheckResult, StageResult, Traffic

STAGE = "server-errors"
CHECK_ID = "server-error-budget"


class Tally:
    """Requests sent and 5xx answers received by this process since the last `take()` (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent = 0
        self._server_errors = 0

    def record(self, status: int | None) -> None:
        """Count one request; `status` is None when it got no answer."""
        with self._lock:
            self._sent += 1
            if status is not None and status >= 500:
                self._server_errors += 1

    def count(self, event: http.Exchanged) -> None:
        """Count one exchange the transport completed (a listener of http.events)."""
        ex = event.exchange
        self.record(ex.status if ex.status is not None else ex.answered_status)

    def take(self) -> Traffic:
        """The counts so far, and start again from zero."""
        with self._lock:
            out = Traffic(sent=self._sent, server_errors=self._server_errors)
            self._sent = self._server_errors = 0
        return out


TALLY = run_state.Slot("5xx tally", Tally)


def tally() -> Tally:
    """The current run's tally (a stage process takes it per check); counts once `listen()` subscribed it."""
    return run_state.current().get(TALLY)


def listen() -> None:
    """Count every exchange of the current run in its tally (idempotent; each stage process does)."""
    http.events().subscribe(http.Exchanged, tally().count)


@contextlib.contextmanager
def counting() -> Iterator[Tally]:
    """A tally of this run's exchanges while the block runs: the gate's own requests, whatever ran before."""
    own = Tally()
    with http.events().subscribed(http.Exchanged, own.count):
        yield own


def _counts(traffic: Traffic | None) -> tuple[int, int]:
    return (traffic.sent, traffic.server_errors) if traffic is not None else (0, 0)


def stage_counts(stage: StageResult) -> tuple[int, int]:
    """(requests sent, 5xx answers) of one stage: its own total when it has one, else the sum over its checks."""
    if stage.traffic is not None:
        return _counts(stage.traffic)
    sent = errors = 0
    for check in stage.checks:
        if check.unverifiable:
            continue  # its answer proved nothing here (synthgate.checks.contract): a no-data check, not evidence
        s, e = _counts(check.traffic)
        sent, errors = sent + s, errors + e
    return sent, errors


def passed_after_server_error(stages: list[StageResult]) -> list[tuple[str, CheckResult]]:
    """Checks that passed although the deployment answered them (or one of their attempts) with a 5xx."""
    return [(s.name, c) for s in stages for c in s.checks
            if c.status == "passed" and _counts(c.traffic)[1] > 0]


def budget_stage(stages: list[StageResult], own: Traffic, limit: float) -> StageResult | None:
    """A stage holding the one budget check, or None when no request was counted at all."""
    started = time.perf_counter()
    per_stage = {s.name: stage_counts(s) for s in stages if s.status != "skipped"}
    sent = own.sent + sum(n for n, _ in per_stage.values())
    errors = own.server_errors + sum(e for _, e in per_stage.values())
    if sent == 0:
        return None
    rate = errors / sent
    passed_after = passed_after_server_error(stages)
    # the gate's own requests (preflight, login, release polls) are named too, so the parts add up to the total
    parts = ([f"the gate's own {own.server_errors}/{own.sent}"] if own.sent else []) + [
        f"{name} {e}/{n}" for name, (n, e) in per_stage.items() if n]
    message = (f"{errors:,} of {sent:,} requests answered 5xx ({100 * rate:.2f} %), "
               f"{'within' if rate <= limit else 'over'} the {100 * limit:g} % budget"
               f" (by stage: {', '.join(parts) or 'none'})")
    if passed_after:
        message += "; passed only after a 5xx: " + ", ".join(f"{s}/{c.id}" for s, c in passed_after)
    ok = rate <= limit
    # a reproduction: the first check that met a 5xx and kept its request as curl
    curl = next((c.curl for s in stages for c in s.checks if c.curl and _counts(c.traffic)[1]), None)
    check = CheckResult(
        id=CHECK_ID, status="passed" if ok else "failed", kind=None if ok else "assertion", message=message,
        curl=None if ok else curl, duration_ms=max(0.001, round((time.perf_counter() - started) * 1000, 3)),
        details={"counted": {"sent": sent, "server_errors": errors}, "rate": round(rate, 6), "limit": limit,
                 "own": {"sent": own.sent, "server_errors": own.server_errors},
                 "by_stage": {name: {"sent": n, "server_errors": e} for name, (n, e) in per_stage.items()},
                 "passed_after_server_error": [f"{s}/{c.id}" for s, c in passed_after]},
    )
    return StageResult.from_checks(STAGE, [check], 0.0, message=message)
