"""The profile's accessibility settings (`e2e.a11y`): axe-core run in every journey's page."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from synthgate.profile.common import Strict

Impact = Literal["minor", "moderate", "serious", "critical"]


class A11yConfig(Strict):
    """How the `<journey>.a11y` checks judge axe-core's findings; a journey opts out with `a11y: false`."""

    fail_on: list[Impact] = Field(default_factory=lambda: ["serious", "critical"])  # the rest are reported only
    ignore_rules: list[str] = Field(default_factory=list)  # axe rule ids not run at all (e.g. color-contrast)
    tags: list[str] = Field(default_factory=list)  # run only rules with these axe tags (e.g. wcag2a, wcag2aa)
    # fail only on violations the previous passing run did not have; the others are existing debt (synthgate/debt.py)
    new_only: bool = False
