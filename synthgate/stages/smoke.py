"""The smoke stage: tests/smoke under pytest + httpx."""

from __future__ import annotations

from synthgate.checks import cold, registry
from synthgate.deadline import stage_budget_s
from synthgate.results import StageResult
from synthgate.stages.base import StageContext
from synthgate.stages.pytest_suite import run_suite


def run(ctx: StageContext) -> StageResult:
    """Run every smoke check of the profile."""
    # every check the suite may run, of every kind (readiness, cold starts, forged credentials, languages):
    # the ones without a result when the budget or the deadline ends the suite are marked timed out
    planned = [p.id for p in registry.plan(ctx.profile, ctx.base_url)]
    # plugins the smoke suite never uses cost ~1.5 s of start-up each run (measured with no bytecode cache)
    unused_plugins = ["-p", "no:schemathesis", "-p", "no:hypothesispytest"]
    if ctx.label or cold.active() is None:  # a re-verified (rolled back) release starts cold again
        cold.begin(ctx.reports_dir, ctx.base_url, ctx.label)
    try:
        return run_suite(ctx, "smoke", timeout_s=stage_budget_s(ctx.profile, "smoke", ctx.base_url),
                         extra_args=unused_plugins, planned=planned)
    finally:
        cold.close()  # later stages' first contacts (fuzz's random paths) judge nothing
