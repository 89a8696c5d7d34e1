"""`--base-url` for a stage child that runs only bundled suites without a browser (smoke, fuzz, load).

pytest-playwright brings this option to every suite, but importing it (and Playwright's API) costs about 0.3 s of
CPU in each child; the e2e stage, and any child running the team's own checks, still loads it.
"""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """The option and ini value exactly as pytest-playwright defines them when pytest-base-url is not installed."""
    parser.addini("base_url", help="base url for the application under test.")
    parser.addoption("--base-url", metavar="url", default=os.getenv("PYTEST_BASE_URL", None),
                     help="base url for the application under test.")
