"""The hooks synthgate's pytest plugin adds: what a conftest.py implements to extend a run."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec(firstresult=True)
def pytest_synthgate_target(config: pytest.Config, profile: Any) -> str | None:
    """The base URL to test when none was given (no --base-url, environment or profile base_url): a conftest
    can start a local server here and return its URL (stop it with `config.add_cleanup`). None: no target."""
