"""The profile's e2e section: user journeys run in a real browser."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from synthgate.profile.common import Strict


class Journey(Strict):
    """One user journey, declared as data so a site is described without code."""

    id: str
    kind: str = "steps"
    path: str = "/"
    options: dict[str, Any] = Field(default_factory=dict)


class E2EConfig(Strict):
    """Browser settings shared by every journey."""

    parallel: int = Field(default=1, ge=1, le=8)
    timeout_s: float = 15.0
