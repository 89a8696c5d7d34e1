"""The profile's fuzz section: endpoints with body schemas, stateful flows, bounds."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from synthgate.profile.common import Strict


class FuzzConfig(Strict):
    """Bounds and targets of the fuzz stage."""

    endpoints: list[dict[str, Any]] = Field(default_factory=list)
    openapi: str | None = None
    allow_writes: bool = False
    max_examples: int = Field(default=100, ge=1)
    max_time_s: float = 60.0
    max_rps: float = 50.0
    seed: int | None = None
