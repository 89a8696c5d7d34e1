"""One budget formula: what the gate's deadline, the smoke stage's limit and a probe's deadline are built from."""

from __future__ import annotations

import pytest

from synthgate.checks import outcome
from synthgate.checks.outcome import Outcome, run_with_retries
from synthgate.checks.smoke import plan
from synthgate.deadline import attempts_budget_s
from synthgate.probe.jobs import smoke_deadline_s
from synthgate.profile import load_profile


@pytest.mark.parametrize("retries", [0, 1, 2, 3])
def test_the_budget_is_every_attempt_at_its_timeout_plus_the_backoff_actually_slept(
        retries: int, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(outcome.time, "sleep", slept.append)
    tried = run_with_retries(lambda: Outcome(ok=False, message="timeout", kind="error", retryable=True), retries, 0.5)
    assert tried.attempts == retries + 1
    assert attempts_budget_s(10.0, retries, 0.5) == 10.0 * (retries + 1) + sum(slept)
    assert attempts_budget_s(10.0, retries, 0.5, requests=3) == 30.0 * (retries + 1) + sum(slept)


def test_a_probe_deadline_is_the_budget_and_its_margin() -> None:
    profile, _ = load_profile("demo")
    d = profile.defaults
    for check in plan(profile):
        steps = len(getattr(check.spec, "steps", None) or [])
        assert smoke_deadline_s(profile, check) == attempts_budget_s(d.timeout_s, check.retries, d.backoff_s,
                                                                     steps) + 5.0
