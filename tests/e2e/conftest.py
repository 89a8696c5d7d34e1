"""The e2e suite's fixtures: synthgate's declared journeys, and pytest-playwright set up for synthgate.

`test_journeys.py` reports one test per journey step of the profile. A user can add plain pytest-playwright
tests beside it (`def test_x(page): page.goto("/")`): the `page`/`browser` fixtures launch the same Chromium
synthgate found, with the flags a closed-network machine needs, and `--base-url` is the target.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from synthgate.e2e import BrowserChoice, BrowserNotFound, discover, plan_all
from synthgate.e2e.runner import JourneyRun, run_journeys
from synthgate.plugin import sg_profile_of
from synthgate.profile import Profile


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One `journey_step` per step of every journey in the profile (ids: <journey>.<step>)."""
    if "journey_step" in metafunc.fixturenames:
        profile, _ = sg_profile_of(metafunc.config)
        steps = plan_all(profile)
        metafunc.parametrize("journey_step", steps, ids=[s.check_id for s in steps])


@pytest.fixture(scope="session")
def sg_browser() -> BrowserChoice:
    """The Chromium synthgate uses; a clear failure with the install hint when there is none."""
    try:
        return discover()
    except BrowserNotFound as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def journey_results(sg_profile: Profile, sg_target: str, sg_reports_dir: Path) -> JourneyRun:
    """Every journey of the profile, run once per session in one browser (concurrently where allowed)."""
    return run_journeys(sg_profile, sg_target, sg_reports_dir)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any], sg_browser: BrowserChoice) -> dict[str, Any]:
    """pytest-playwright's launch arguments, with synthgate's Chromium and flags (--headed still wins)."""
    ours = sg_browser.launch_kwargs()
    args = [*ours.pop("args", []), *browser_type_launch_args.get("args", [])]  # type: ignore[misc]
    return {**ours, **browser_type_launch_args, "args": args}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], sg_profile: Profile) -> dict[str, Any]:
    """pytest-playwright's context arguments, with the profile's viewport and locale."""
    cfg = sg_profile.e2e
    return {"viewport": {"width": cfg.viewport.width, "height": cfg.viewport.height}, "locale": cfg.locale,
            "ignore_https_errors": cfg.ignore_https_errors, **browser_context_args}
