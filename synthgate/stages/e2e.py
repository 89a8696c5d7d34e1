"""The e2e stage: tests/e2e under pytest + Playwright, in a real headless Chromium.

The browser is looked for before the suite starts: without one the stage fails at once with a check that
says how to install one (kind "no-data": a runner without a browser measured nothing, so on its own that
makes the verdict inconclusive rather than rolling back a deployment nobody looked at).
"""

from __future__ import annotations

from synthgate.deadline import stage_budget_s
from synthgate.e2e import BrowserNotFound, discover
from synthgate.e2e.evidence import EVIDENCE_DIR, clear_stale, scrub_tree
from synthgate.results import CheckResult, StageResult
from synthgate.stages import user_checks
from synthgate.stages.base import StageContext
from synthgate.stages.pytest_suite import run_suite, suite_dir

JOURNEYS_FILE = "test_journeys.py"


def _user_tests(stage_dir_tests: list[str]) -> bool:
    return any(name != JOURNEYS_FILE for name in stage_dir_tests)


def run(ctx: StageContext) -> StageResult:
    """Run every journey of the profile (and any user test in tests/e2e) against the target."""
    profile = ctx.profile
    folder = suite_dir("e2e")
    tests = sorted(p.name for p in folder.glob("test_*.py")) if folder.is_dir() else []
    if not profile.journeys and not _user_tests(tests) and not user_checks.dirs(ctx, "e2e"):
        return StageResult.skipped("e2e", "the profile declares no journeys")
    try:
        choice = discover()
    except BrowserNotFound as exc:
        check = CheckResult(id="e2e.browser", status="failed", kind="no-data", message=str(exc))
        return StageResult.from_checks("e2e", [check], 0.0)
    ctx.progress(f"  browser: {choice.describe()}")
    if not ctx.label:
        clear_stale(ctx.reports_dir)
    artefacts = ctx.reports_dir / EVIDENCE_DIR
    extra = ["--output", str(artefacts / "pytest-playwright"), "--screenshot", "only-on-failure",
             "--tracing", "retain-on-failure",
             # plugins the browser suite never uses: a second less to start the child pytest
             "-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:locust"]
    result = run_suite(ctx, "e2e", timeout_s=stage_budget_s(profile, "e2e"), extra_args=extra)
    scrub_tree(artefacts)  # plain pytest-playwright tests' traces too: no secret leaves in an artefact
    result.details["browser"] = choice.describe()
    return result
