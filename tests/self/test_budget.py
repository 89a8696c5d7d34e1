"""One budget formula: what the gate's deadline, the smoke stage's limit and a probe's deadline are built from."""

from __future__ import annotations

import pytest

from synthgate import deadline
from synthgate.checks import outcome, registry
from synthgate.checks.outcome import Outcome, run_with_retries
from synthgate.deadline import attempts_budget_s, check_budget_s, default_deadline_s, stage_budget_s
from synthgate.probe.jobs import smoke_jobs
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
    jobs = {job.id: job for job in smoke_jobs(profile, "http://127.0.0.1:9", 60.0)}
    planned = registry.plan(profile, probed=True)
    assert sorted(jobs) == sorted(p.id for p in planned) and len(planned) > 5
    for p in planned:
        steps = len(getattr(p.check.spec, "steps", None) or [])
        assert jobs[p.id].deadline_s == attempts_budget_s(d.timeout_s, p.check.retries, d.backoff_s, steps) + 5.0


def test_the_smoke_stage_budget_counts_every_check_it_may_run() -> None:
    profile, _ = load_profile("demo")
    planned = registry.plan(profile)
    kinds = {p.kind.name for p in planned}
    assert {"health", "hygiene", "cold-start", "forged", "language"} <= kinds
    assert stage_budget_s(profile, "smoke") == pytest.approx(
        deadline.SMOKE_START_S + sum(check_budget_s(profile, p) for p in planned))
    # an https target adds the TLS checks, an http one has none to run
    assert any(p.kind.name == "tls" for p in registry.plan(profile, "https://127.0.0.1:1"))
    assert not any(p.kind.name == "tls" for p in registry.plan(profile, "http://127.0.0.1:1"))


@pytest.mark.parametrize("stage", ["smoke", "e2e", "fuzz", "load"])
def test_the_default_deadline_holds_each_stage_budget(stage: str) -> None:
    profile, _ = load_profile("demo")
    profile = profile.model_copy(update={"rollback": None})
    assert profile.journeys and profile.fuzz is not None and profile.load is not None
    share = default_deadline_s(profile, [stage]) - default_deadline_s(profile, [])
    assert abs(share - stage_budget_s(profile, stage)) <= 1  # rounded to the second
