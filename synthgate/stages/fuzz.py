"""The fuzz stage: tests/fuzz under pytest + Hypothesis (+ Schemathesis), in a child process."""

from __future__ import annotations

from synthgate.results import StageResult
from synthgate.stages.base import StageContext
from synthgate.stages.pytest_suite import run_suite

# Start-up of the child (pytest, Hypothesis, Schemathesis, fetching the OpenAPI document) and the shrinking
# of failures found just before the time budget ends; beyond it the child is stopped.
GRACE_S = 60.0


def run(ctx: StageContext) -> StageResult:
    """Fuzz the profile's endpoints, OpenAPI operations and flows within the profile's bounds."""
    fuzz = ctx.profile.fuzz
    if fuzz is None:
        return StageResult.skipped("fuzz", "the profile declares no fuzz section")
    max_time = float(ctx.options.get("max_time_s") or fuzz.max_time_s)
    # plain asserts: rewriting every module of the pytest-plugin packages (Schemathesis has hundreds) costs
    # seconds at each start when bytecode is not cached; Schemathesis' own pytest plugin is not used
    return run_suite(ctx, "fuzz", timeout_s=max_time + GRACE_S, extra_args=["--assert=plain", "-p", "no:schemathesis"])
