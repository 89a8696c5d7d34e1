"""The records the store keeps: probe results, check states, incidents, alert rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

OutboxRow = tuple[str, str, dict[str, Any]]  # (event, channel key, alert document)


@dataclass
class ProbeResult:
    """One probe result: one check, one time, what came of it."""

    check_id: str
    ts: float  # wall-clock start, Unix seconds
    duration_ms: float  # the whole check, retries and backoff included
    status: str  # "passed" | "failed"
    outcome: str  # "up" | "down" | "unknown" (failed without evidence: unreachable, no data)
    message: str = ""
    kind: str | None = None
    attempts: int = 1
    latency_ms: float | None = None  # the final attempt's requests alone: what a user would wait
    stage: str = "smoke"
    # seconds an eventually consistent read took to hold (a step with `eventually:`); exported as a metric
    consistency_s: float | None = None


@dataclass
class CheckState:
    """Where one check stands: its current streaks and whether it counts as down."""

    check_id: str
    stage: str = "smoke"
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    down: bool = False
    failing_since: float | None = None  # first failure of the current failure streak
    recovering_since: float | None = None  # first success of the current success streak
    last_ts: float | None = None
    last_outcome: str | None = None
    last_message: str = ""
    last_latency_ms: float | None = None


@dataclass
class Incident:
    """An outage of one probed target: opened on a check going down, resolved when none is down."""

    id: int | None
    started_at: float  # the first failure that led to it: downtime starts here
    detected_at: float  # when it opened (the N-th consecutive failure)
    checks: list[str] = field(default_factory=list)
    message: str = ""
    last_alert_at: float = 0.0
    resolved_at: float | None = None  # the first success of the recovery: downtime ends here
    reminders: int = 0
    profile: str = ""
    location: str = ""  # the location whose probe opened it
    locations: list[str] = field(default_factory=list)  # every location that saw it down

    @property
    def downtime_s(self) -> float | None:
        """Seconds from the first failure to the first success of the recovery (None while open)."""
        return None if self.resolved_at is None else max(0.0, self.resolved_at - self.started_at)


# outbox rows, or a function that makes them once a new incident has its id (inside the same transaction)
Outbox = Sequence[OutboxRow] | Callable[[Incident | None], Sequence[OutboxRow]]


@dataclass
class AlertRow:
    """One alert waiting for (or done with) delivery on one channel."""

    id: int
    incident_id: int | None
    event: str
    channel: str
    payload: dict[str, Any]
    created_at: float
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None = None
