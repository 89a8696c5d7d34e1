"""The demo target's faults `cold-start-slow` (each endpoint's first call takes seconds) and `a11y-violation`
(a form field loses its label)."""

from __future__ import annotations

import re
from collections.abc import Container

# `cold-start-slow`: the first call of each endpoint after the process started or a release became current.
COLD_START_S = 3.0
# `a11y-violation`: the intake form's "Their company" field keeps its input but loses its <label>.
UNLABELLED_FIELD = "target_company"
_LABEL = re.compile(rb'<label for="' + UNLABELLED_FIELD.encode() + rb'"[^>]*>.*?</label>\s*', re.S)


class ColdStarts:
    """Which endpoints of which release have answered once in this process (a serverless function's warm set)."""

    def __init__(self) -> None:
        self._warm: set[tuple[str, str]] = set()

    def delay_s(self, fault: str | None, version: str, endpoint: str | None) -> float:
        """Seconds this request waits: COLD_START_S on an endpoint's first call under `cold-start-slow`."""
        if fault != "cold-start-slow" or endpoint is None:
            return 0.0
        key = (version, endpoint)
        if key in self._warm:
            return 0.0
        self._warm.add(key)  # before the wait: a second request meanwhile finds the instance starting, not cold
        return COLD_START_S


def endpoint(path: str, routes: Container[str], campaign: re.Pattern[str]) -> str | None:
    """The route (function) that serves `path`, or None for a path the app does not serve."""
    if path in routes:
        return path
    return "/api/campaign/{id}" if campaign.fullmatch(path) else None


def page(name: str, fault: str | None, body: bytes) -> bytes:
    """A page as served: under `a11y-violation` the intake form has a field without a label."""
    if fault == "a11y-violation" and name == "intake":
        return _LABEL.sub(b"", body, count=1)
    return body
