"""The smoke stage: tests/smoke under pytest + httpx."""

from __future__ import annotations

from synthgate.checks import cold
from synthgate.checks.smoke import plan
from synthgate.deadline import attempts_budget_s
from synthgate.results import StageResult
from synthgate.stages.base import StageContext
from synthgate.stages.pytest_suite import run_suite


def run(ctx: StageContext) -> StageResult:
    """Run every smoke check of the profile."""
    profile, d = ctx.profile, ctx.profile.defaults
    checks = plan(profile, readiness=True)  # every check the suite may run: readiness too, and the cold starts
    endpoints = cold.plan(profile)
    # bound: every check may take its timeout on every attempt, plus backoff; the suite's start-up on top
    worst = sum(attempts_budget_s(d.timeout_s, c.retries, d.backoff_s, len(getattr(c.spec, "steps", None) or []))
                for c in checks)
    worst += len(endpoints) * d.timeout_s  # each endpoint's first contact, once
    # plugins the smoke suite never uses cost ~1.5 s of start-up each run (measured with no bytecode cache)
    unused_plugins = ["-p", "no:schemathesis", "-p", "no:hypothesispytest"]
    if ctx.label or cold.active() is None:  # a re-verified (rolled back) release starts cold again
        cold.begin(ctx.reports_dir, ctx.base_url, ctx.label)
    try:
        return run_suite(ctx, "smoke", timeout_s=60 + worst, extra_args=unused_plugins,
                         planned=[c.id for c in checks] + [e.id for e in endpoints])
    finally:
        cold.close()  # later stages' first contacts (fuzz's random paths) judge nothing
