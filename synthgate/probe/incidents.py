"""Incidents: consecutive-failure streaks per check, one incident per probed target, alerts without storms.

A check goes *down* after `fail_after` consecutive failed rounds and comes back *up* after `recover_after`
consecutive passed ones. The target has an incident while any check is down: it opens (one "down" alert) when the
first check goes down and resolves (one "recovered" alert) when the last one comes back, so an outage that breaks
twenty checks still sends two alerts. Results without evidence ("unknown": the probe could not reach the target)
change no streak. Everything here is restored from the store, so a restarted probe continues where it stopped.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from synthgate.store import CheckState, Incident, ProbeResult, Store

OutboxRows = list[tuple[str, str, dict[str, Any]]]  # (event, channel, payload)


@dataclass(frozen=True)
class Policy:
    """When a check counts as down or up again, and how often to remind while an incident stays open."""

    fail_after: int = 2
    recover_after: int = 1
    remind_every: float | None = None


@dataclass
class Event:
    """Something to alert about: "down", "recovered" or "reminder", with the incident as it is now."""

    kind: str
    incident: Incident
    check: CheckState
    result: ProbeResult


def step(state: CheckState, result: ProbeResult, policy: Policy) -> str | None:
    """Advance one check's streaks with a result (in place); "down" or "up" when the check changes side."""
    state.last_ts = result.ts
    state.last_outcome = result.outcome
    state.last_message = result.message
    if result.latency_ms is not None:
        state.last_latency_ms = result.latency_ms
    if result.outcome == "down":
        if state.consecutive_failures == 0:
            state.failing_since = result.ts
        state.consecutive_failures += 1
        state.consecutive_successes = 0
        state.recovering_since = None
        if not state.down and state.consecutive_failures >= policy.fail_after:
            state.down = True
            return "down"
    elif result.outcome == "up":
        if state.consecutive_successes == 0:
            state.recovering_since = result.ts
        state.consecutive_successes += 1
        state.consecutive_failures = 0
        state.failing_since = None
        if state.down and state.consecutive_successes >= policy.recover_after:
            state.down = False
            return "up"
    return None  # "unknown": no evidence either way, streaks stand


def advance(states: dict[str, CheckState], incident: Incident | None, result: ProbeResult,
            policy: Policy) -> tuple[CheckState, Incident | None, list[str]]:
    """One result applied to the target: the check's new state, the incident (new, updated or None), events.

    Pure on its inputs' copies: the caller keeps the returned objects only once they are stored.
    """
    state = copy.deepcopy(states.get(result.check_id)) or CheckState(result.check_id, result.stage)
    incident = copy.deepcopy(incident)
    others_down = any(s.down for cid, s in states.items() if cid != result.check_id)
    events: list[str] = []
    change = step(state, result, policy)
    if change == "down":
        if incident is None:
            started = state.failing_since if state.failing_since is not None else result.ts
            incident = Incident(id=None, started_at=started, detected_at=result.ts, checks=[result.check_id],
                                message=f"{result.check_id}: {result.message}", last_alert_at=result.ts)
            events.append("down")
        elif result.check_id not in incident.checks:
            incident.checks.append(result.check_id)  # joins the open incident: no new alert
    elif change == "up" and incident is not None and not others_down:
        incident.resolved_at = state.recovering_since if state.recovering_since is not None else result.ts
        events.append("recovered")
    elif (incident is not None and incident.resolved_at is None and policy.remind_every
          and result.ts - incident.last_alert_at >= policy.remind_every):
        incident.reminders += 1
        incident.last_alert_at = result.ts
        events.append("reminder")
    return state, incident, events


class IncidentTracker:
    """The probe's incident state for one (profile, location): loaded from the store, written back per result."""

    def __init__(self, store: Store, profile: str, location: str, policy: Policy) -> None:
        self.store = store
        self.profile = profile
        self.location = location
        self.policy = policy
        self.states: dict[str, CheckState] = store.check_states(profile, location)
        self.incident: Incident | None = store.open_incident(profile, location)

    def record(self, result: ProbeResult,
               outbox: Callable[[Event], OutboxRows] = lambda _e: []) -> tuple[int, list[Event]]:
        """Store a result with its consequences in one transaction; returns the result id and the events."""
        state, incident, kinds = advance(self.states, self.incident, result, self.policy)
        events = [Event(k, incident, state, result) for k in kinds if incident is not None]
        touched = incident if incident is not None and incident != self.incident else None  # write changes only
        # the alert documents are made inside the transaction, once a new incident has its id
        rid = self.store.record(self.profile, self.location, result, state, touched,
                                lambda _inc: [row for e in events for row in outbox(e)])
        self.states[result.check_id] = state
        self.incident = incident if incident is not None and incident.resolved_at is None else None
        return rid, events

    def forget(self, current: Sequence[str], now: float,
               outbox: Callable[[Event], OutboxRows] = lambda _e: []) -> list[Event]:
        """Drop the state of checks the profile no longer has; resolves the incident if only they were down."""
        gone = [cid for cid in self.states if cid not in set(current)]
        if not gone:
            return []
        for cid in gone:
            del self.states[cid]
        self.store.delete_states(self.profile, self.location, gone)
        incident = self.incident
        if incident is None or any(s.down for s in self.states.values()):
            return []
        incident = copy.deepcopy(incident)
        incident.resolved_at = now
        marker = ProbeResult(check_id=gone[0], ts=now, duration_ms=0.0, status="passed", outcome="up",
                             message="check removed from the profile")
        events = [Event("recovered", incident, CheckState(gone[0]), marker)]
        self.store.save_states(self.profile, self.location, [], incident,
                               lambda _inc: [r for e in events for r in outbox(e)])
        self.incident = None
        return events
