"""The smoke stage: tests/smoke under pytest + httpx."""

from __future__ import annotations

from synthgate.checks import cold
from synthgate.checks.smoke import plan
from synthgate.results import StageResult
from synthgate.stages.base import StageContext
from synthgate.stages.pytest_suite import run_suite


def run(ctx: StageContext) -> StageResult:
    """Run every smoke check of the profile."""
    profile = ctx.profile
    # bound: every check may take its timeout on every attempt, plus backoff; the suite's start-up on top
    worst = sum((c.retries + 1) * profile.defaults.timeout_s * max(1, len(getattr(c.spec, "steps", [])))
                + profile.defaults.backoff_s * 2 ** c.retries for c in plan(profile))
    worst += len(cold.plan(profile)) * profile.defaults.timeout_s  # each endpoint's first contact, once
    # plugins the smoke suite never uses cost ~1.5 s of start-up each run (measured with no bytecode cache)
    unused_plugins = ["-p", "no:schemathesis", "-p", "no:hypothesispytest"]
    if ctx.label or cold.active() is None:  # a re-verified (rolled back) release starts cold again
        cold.begin(ctx.reports_dir, ctx.base_url, ctx.label)
    try:
        return run_suite(ctx, "smoke", timeout_s=60 + worst, extra_args=unused_plugins,
                         planned=[c.id for c in plan(profile)])
    finally:
        cold.close()  # later stages' first contacts (fuzz's random paths) judge nothing
