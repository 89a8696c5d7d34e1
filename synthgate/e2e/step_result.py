"""What running a journey step gives: a result per step, the results of a run, and a step's failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

StepStatus = Literal["passed", "failed", "skipped"]


@dataclass
class StepResult:
    """The outcome of one journey step: what the e2e suite reports as one check."""

    check_id: str
    status: StepStatus
    message: str = ""
    duration_ms: float = 0.0
    kind: str | None = None
    evidence: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1
    flaky: bool = False


@dataclass
class JourneyRun:
    """Every step result of one run of the journeys."""

    results: dict[str, StepResult]
    browser: str = ""
    duration_s: float = 0.0

    def result(self, check_id: str) -> StepResult:
        """The result of one step (a step the run never reached counts as failed)."""
        found = self.results.get(check_id)
        if found is None:
            return StepResult(check_id, "failed", "the journey runner produced no result for this step", kind="error")
        return found


class StepFailed(Exception):
    """A step's expectation did not hold (or its action could not be done)."""

    def __init__(self, message: str, kind: str = "assertion", fatal: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.fatal = fatal
