"""pytest-playwright set up for a team's own browser checks (their tests/e2e/, outside the bundled suite):
synthgate's Chromium with its flags, the profile's viewport and locale.

Registered by the plugin after every entry-point plugin, so these override pytest-playwright's own fixtures
for every test; the bundled tests/e2e/conftest.py still refines them for the bundled suite.
"""

from __future__ import annotations

from typing import Any

import pytest

from synthgate.e2e import BrowserChoice, BrowserNotFound, discover
from synthgate.profile import Profile


@pytest.fixture(scope="session")
def sg_browser() -> BrowserChoice:
    """The Chromium synthgate uses; a clear failure with the install hint when there is none."""
    try:
        return discover()
    except BrowserNotFound as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any], sg_browser: BrowserChoice) -> dict[str, Any]:
    """pytest-playwright's launch arguments, with synthgate's Chromium and flags (--headed still wins)."""
    ours = sg_browser.launch_kwargs()
    args = list(dict.fromkeys([*ours.pop("args", []), *browser_type_launch_args.get("args", [])]))
    return {**ours, **browser_type_launch_args, "args": args}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], sg_profile: Profile) -> dict[str, Any]:
    """pytest-playwright's context arguments, with the profile's viewport and locale."""
    cfg = sg_profile.e2e
    return {"viewport": {"width": cfg.viewport.width, "height": cfg.viewport.height}, "locale": cfg.locale,
            "ignore_https_errors": cfg.ignore_https_errors, **browser_context_args}
