"""The e2e suite's fixtures: synthgate's declared journeys, and pytest-playwright set up for synthgate.

`test_journeys.py` reports one test per journey step of the profile. A user can add plain pytest-playwright
tests beside it (`def test_x(page): page.goto("/")`): the `page`/`browser` fixtures launch the same Chromium
synthgate found, with the flags a closed-network machine needs (`synthgate.e2e.user_fixtures`, which the plugin
registers), and `--base-url` is the target.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from synthgate.checks import hygiene
from synthgate.e2e import plan_all
from synthgate.e2e.runner import JourneyRun, run_journeys
from synthgate.plugin import sg_profile_of
from synthgate.profile import Profile


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One `journey_step` per step of every journey in the profile (ids: <journey>.<step>)."""
    if "journey_step" in metafunc.fixturenames:
        profile, _ = sg_profile_of(metafunc.config)
        steps = plan_all(profile)
        metafunc.parametrize("journey_step", steps, ids=[s.check_id for s in steps])
    if "journey_hygiene_item" in metafunc.fixturenames:
        profile, _ = sg_profile_of(metafunc.config)
        items = hygiene.seen_items(profile) if profile.journeys else []
        metafunc.parametrize("journey_hygiene_item", items, ids=[hygiene.journeys_check_id(i) for i in items])


@pytest.fixture(scope="session")
def journey_results(sg_profile: Profile, sg_target: str, sg_reports_dir: Path) -> JourneyRun:
    """Every journey of the profile, run once per session in one browser (concurrently where allowed)."""
    return run_journeys(sg_profile, sg_target, sg_reports_dir)
