"""Incidents: consecutive-failure streaks per check, one incident per probed target, alerts without storms.

A check goes *down* after `fail_after` consecutive failed rounds and comes back *up* after `recover_after`
consecutive passed ones. The target has an incident while any check is down: it opens (one "down" alert) when the
first check goes down and resolves (one "recovered" alert) when the last one comes back, so an outage that breaks
twenty checks still sends two alerts. Results without evidence ("unknown": the probe could not reach the target)
change no streak. Everything here is restored from the store, so a restarted probe continues where it stopped.

Probes of one profile in several locations share the store: each keeps its own streaks, and a check counts as down
when `quorum` locations see it down within one interval. The incident is the profile's, decided inside the write
transaction from what every location committed, so whichever process sees the outage first opens it (one "down"
alert) and whichever sees the end first resolves it (one "recovered" alert).
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
    quorum: int = 1  # locations that must agree that a check is down


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


def agreeing(everywhere: dict[str, dict[str, CheckState]], check_id: str, me: str, now: float,
             window_s: float) -> list[str]:
    """The locations that see a check down now: this one by its own streak, others only if they saw it lately."""
    out = []
    for loc, states in everywhere.items():
        s = states.get(check_id)
        if s is not None and s.down and (loc == me or (s.last_ts is not None and now - s.last_ts <= window_s)):
            out.append(loc)
    return sorted(out)


def decide_shared(everywhere: dict[str, dict[str, CheckState]], incident: Incident | None, me: str, now: float,
                  policy: Policy, windows: dict[str, float], default_window_s: float, result: ProbeResult | None = None,
                  resolved_at: float | None = None) -> tuple[Incident | None, list[str]]:
    """The profile's incident after a location's write: (the incident to store, None if unchanged; event kinds).

    Pure: `everywhere` holds every location's committed states, `incident` the open one as committed.
    """
    checks = sorted({cid for states in everywhere.values() for cid in states})
    seen = {cid: agreeing(everywhere, cid, me, now, windows.get(cid, default_window_s)) for cid in checks}
    down = {cid: locs for cid, locs in seen.items() if len(locs) >= policy.quorum}
    where = sorted({loc for locs in down.values() for loc in locs})
    if down and incident is None:
        first = [s.failing_since for loc, states in everywhere.items() for cid, s in states.items()
                 if cid in down and loc in down[cid] and s.failing_since is not None]
        primary = result.check_id if result is not None and result.check_id in down else sorted(down)[0]
        state = everywhere.get(me, {}).get(primary) or next(everywhere[loc][primary] for loc in down[primary])
        message = result.message if result is not None and result.check_id == primary else state.last_message
        if policy.quorum > 1 or len(everywhere) > 1:
            message += f" (seen from {', '.join(down[primary])})"
        return Incident(id=None, started_at=min(first, default=now), detected_at=now, checks=sorted(down),
                        message=f"{primary}: {message}", last_alert_at=now, locations=where), ["down"]
    if down and incident is not None:
        joined = [cid for cid in sorted(down) if cid not in incident.checks]
        places = sorted(set(incident.locations) | set(where))
        if policy.remind_every and now - incident.last_alert_at >= policy.remind_every:
            update = copy.deepcopy(incident)
            update.checks += joined
            update.locations = places
            update.reminders += 1
            update.last_alert_at = now
            return update, ["reminder"]
        if joined or places != sorted(incident.locations):
            update = copy.deepcopy(incident)
            update.checks += joined  # joins the open incident: no new alert
            update.locations = places
            return update, []
        return None, []
    if not down and incident is not None:
        update = copy.deepcopy(incident)
        update.resolved_at = resolved_at if resolved_at is not None else now
        return update, ["recovered"]
    return None, []


class IncidentTracker:
    """The probe's incident state for one (profile, location): loaded from the store, written back per result."""

    def __init__(self, store: Store, profile: str, location: str, policy: Policy,
                 windows: dict[str, float] | None = None, default_window_s: float = 600.0) -> None:
        self.store = store
        self.profile = profile
        self.location = location
        self.policy = policy
        self.windows = windows or {}  # per check: how recent another location's "down" must be to agree
        self.default_window_s = default_window_s
        self.states: dict[str, CheckState] = store.check_states(profile, location)
        self.incident: Incident | None = store.open_incident(profile)

    def record(self, result: ProbeResult,
               outbox: Callable[[Event], OutboxRows] = lambda _e: []) -> tuple[int, list[Event]]:
        """Store a result with its consequences in one transaction; returns the result id and the events."""
        state = copy.deepcopy(self.states.get(result.check_id)) or CheckState(result.check_id, result.stage)
        change = step(state, result, self.policy)
        recovered_at = state.recovering_since if change == "up" else None
        events: list[Event] = []

        def decide(everywhere: dict[str, dict[str, CheckState]],
                   incident: Incident | None) -> tuple[Incident | None, list[str]]:
            update, kinds = decide_shared(everywhere, incident, self.location, result.ts, self.policy,
                                          self.windows, self.default_window_s, result, recovered_at)
            events[:] = [Event(k, update, state, result) for k in kinds if update is not None]
            return update, kinds

        # the alert documents are made inside the transaction, once a new incident has its id
        rid, self.incident, _kinds = self.store.record_shared(
            self.profile, self.location, result, [state], decide, lambda _inc: [r for e in events for r in outbox(e)])
        self.states[result.check_id] = state
        return rid, events

    def forget(self, current: Sequence[str], now: float,
               outbox: Callable[[Event], OutboxRows] = lambda _e: []) -> list[Event]:
        """Drop the state of checks the profile no longer has; resolves the incident if only they were down."""
        gone = [cid for cid in self.states if cid not in set(current)]
        if not gone:
            return []
        for cid in gone:
            del self.states[cid]
        marker = ProbeResult(check_id=gone[0], ts=now, duration_ms=0.0, status="passed", outcome="up",
                             message="check removed from the profile")
        events: list[Event] = []

        def decide(everywhere: dict[str, dict[str, CheckState]],
                   incident: Incident | None) -> tuple[Incident | None, list[str]]:
            update, kinds = decide_shared(everywhere, incident, self.location, now, self.policy, self.windows,
                                          self.default_window_s)
            events[:] = [Event(k, update, CheckState(gone[0]), marker) for k in kinds if update is not None]
            return update, kinds

        _rid, self.incident, _kinds = self.store.record_shared(
            self.profile, self.location, None, [], decide, lambda _inc: [r for e in events for r in outbox(e)],
            deleted=gone)
        return events
