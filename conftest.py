"""Root pytest configuration.

synthgate's options (--profile, --synthgate-*) and fixtures (sg_profile, sg_target, sg, the check fixtures)
come from its pytest plugin, `synthgate.plugin`, registered as an entry point; --base-url comes from
pytest-base-url. So `pytest tests/smoke --profile coldcopy --base-url https://...` runs the smoke checks
alone, and a test added under tests/<stage>/ can use the same fixtures.

In this repository, `pytest tests/smoke` with no URL at all gates the embedded demo target: this file starts it
through the plugin's `pytest_synthgate_target` hook (the plugin itself knows no demo target).
"""

from __future__ import annotations

from typing import Any

import pytest


def pytest_synthgate_target(config: pytest.Config, profile: Any) -> str | None:
    """Start the embedded demo target for a profile that asks for it (the bundled `demo`)."""
    if not profile.embedded_demo:
        return None
    from synthgate.demo.server import EmbeddedTarget

    target = EmbeddedTarget()
    target.start()
    config.add_cleanup(target.stop)
    return target.url
