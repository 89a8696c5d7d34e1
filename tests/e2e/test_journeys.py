"""The profile's journeys in a real Chromium: one test per journey step (`<journey>.<step>`).

The journeys themselves run once per session (see the `journey_results` fixture): each in a fresh browser
context, retried in a fresh one when a step fails. Each test here reports one step's outcome, with the
screenshot, trace and console log of a failure attached.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from synthgate.checks import hygiene
from synthgate.checks.findings import warnings_of
from synthgate.checks.outcome import run_with_retries
from synthgate.e2e import PlannedStep
from synthgate.e2e.runner import JourneyRun
from synthgate.plugin import Recorder
from synthgate.profile import Profile

_TYPES = {".png": "PNG", ".zip": "ZIP", ".log": "TEXT"}


def _attach(path: Path) -> None:
    """Attach one evidence file to the Allure result of the current test."""
    try:
        import allure
    except ImportError:  # allure-pytest is a dependency, but a user may run the suite without it
        return
    if path.is_file():
        kind = getattr(allure.attachment_type, _TYPES.get(path.suffix, "TEXT"))
        allure.attach.file(str(path), name=path.name, attachment_type=kind)


def test_journey_step(journey_step: PlannedStep, journey_results: JourneyRun, sg: Recorder,
                      sg_reports_dir: Path) -> None:
    result = journey_results.result(journey_step.check_id)
    details = {**result.details, "observed": result.message} if result.status == "passed" else result.details
    sg.set(id=result.check_id, attempts=result.attempts, flaky=result.flaky, duration_ms=result.duration_ms,
           evidence=result.evidence, details=details, **({"kind": result.kind} if result.kind else {}))
    for item in result.evidence:
        _attach(sg_reports_dir / item)
    if result.status == "skipped":
        pytest.skip(result.message)
    if result.status == "failed":
        pytest.fail(result.message, pytrace=False)


def test_journey_answers_hygiene(journey_hygiene_item: str, journey_results: JourneyRun, sg_profile: Profile,
                                 sg_target: str, sg: Recorder) -> None:
    """Cookie flags and cache-private over every answer the journeys got (after they all ran)."""
    outcome = hygiene.judge_seen(sg_profile, sg_target, journey_hygiene_item, "journey ")
    warnings = warnings_of(outcome)
    try:
        sg.attempted(hygiene.journeys_check_id(journey_hygiene_item), run_with_retries(lambda: outcome, 0, 0))
    finally:
        if warnings:
            sg.set(warnings=warnings)
