"""The fuzz stage: tests/fuzz under pytest + Hypothesis (+ Schemathesis), in a child process."""

from __future__ import annotations

from synthgate.deadline import stage_budget_s
from synthgate.results import StageResult
from synthgate.stages.base import StageContext
from synthgate.stages.pytest_suite import run_suite


def run(ctx: StageContext) -> StageResult:
    """Fuzz the profile's endpoints, OpenAPI operations and flows within the profile's bounds."""
    fuzz = ctx.profile.fuzz
    if fuzz is None:
        return StageResult.skipped("fuzz", "the profile declares no fuzz section")
    # its time bound, plus the child's start-up and the shrinking of failures found just before it ends
    budget = stage_budget_s(ctx.profile, "fuzz", options=ctx.options)
    # plain asserts: rewriting every module of the pytest-plugin packages (Schemathesis has hundreds) costs
    # seconds at each start when bytecode is not cached; Schemathesis' own pytest plugin is not used
    return run_suite(ctx, "fuzz", timeout_s=budget, extra_args=["--assert=plain", "-p", "no:schemathesis"])
