"""Reading the probe history: uptime against the SLO, error budget, latency percentiles, incidents, check state.

Uptime of a check over a window is the share of its results with evidence that passed (`up / (up + down)`);
results without evidence ("unknown": the probe could not reach the target) are counted apart, never as uptime.
Downtime is measured on incidents: from the first failed result to the first passed one of the recovery.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from synthgate.probe.alerts import human_duration, iso
from synthgate.store import CheckState, Incident, Store

WINDOWS: tuple[tuple[str, float], ...] = (("24h", 86400.0), ("7d", 7 * 86400.0), ("30d", 30 * 86400.0),
                                          ("90d", 90 * 86400.0), ("365d", 365 * 86400.0))
SLO_WINDOWS: tuple[tuple[str, float], ...] = WINDOWS[2:]  # 30, 90 and 365 days: raw results, then rollups
STALE_FACTOR = 3.0  # a check with no result for 3 intervals is stale: is the probe still running?


@dataclass
class WindowStats:
    """Result counts of one check over one window."""

    up: int = 0
    down: int = 0
    unknown: int = 0

    @property
    def uptime(self) -> float | None:
        """Percent of results with evidence that passed (None without any)."""
        total = self.up + self.down
        return None if total == 0 else 100.0 * self.up / total

    def budget_left(self, slo: float) -> float | None:
        """Percent of the error budget left (negative when overspent; None without data)."""
        uptime = self.uptime
        if uptime is None:
            return None
        allowed = 100.0 - slo
        bad = 100.0 - uptime
        if allowed <= 0:
            return 100.0 if bad == 0 else -math.inf
        return 100.0 * (1.0 - bad / allowed)


@dataclass
class CheckReport:
    """One check: its state, uptime per window, latency percentiles over the report's span."""

    check_id: str
    state: CheckState | None
    windows: dict[str, WindowStats]
    p50_ms: float | None = None
    p95_ms: float | None = None
    samples: int = 0
    interval_s: float | None = None
    stale: bool = False

    @property
    def label(self) -> str:
        """UP, DOWN, FAILING (n), UNKNOWN, NO DATA; STALE appended when the probe stopped reporting."""
        s = self.state
        if s is None or s.last_outcome is None:
            text = "NO DATA"
        elif s.down:
            text = "DOWN"
        elif s.consecutive_failures:
            text = f"FAILING ({s.consecutive_failures})"
        elif s.last_outcome == "unknown":
            text = "UNKNOWN"
        else:
            text = "UP"
        return text + (" (STALE)" if self.stale else "")


@dataclass
class ProbeReport:
    """Everything `probe status`, `probe report` and the status page show about one probed target."""

    profile: str
    location: str
    base_url: str
    slo: float
    generated_at: float
    since_s: float
    checks: list[CheckReport]
    incidents: list[Incident]
    open_incident: Incident | None
    config: dict[str, Any] = field(default_factory=dict)
    started_at: float | None = None
    pid: int | None = None

    def downtime_s(self, window_s: float | None = None) -> float:
        """Seconds of incident downtime within the last `window_s` (the report's span by default)."""
        lo = self.generated_at - (window_s if window_s is not None else self.since_s)
        total = 0.0
        for inc in self.incidents:
            end = inc.resolved_at if inc.resolved_at is not None else self.generated_at
            total += max(0.0, min(end, self.generated_at) - max(inc.started_at, lo))
        return total


def build(store: Store, profile: str, location: str, since_s: float = 7 * 86400.0, now: float | None = None,
          slo: float | None = None) -> ProbeReport:
    """The report of one probed (profile, location) from the store."""
    now = time.time() if now is None else now
    targets = store.probe_targets(profile, location)
    row = targets[0] if targets else None
    config: dict[str, Any] = json.loads(row["config_json"]) if row is not None else {}
    states = store.check_states(profile, location)
    counts = {name: store.outcome_counts(profile, location, now - span) for name, span in WINDOWS}
    latencies = store.latency_percentiles(profile, location, now - since_s)
    order = list(config.get("checks", []))
    known = set(order)
    extra = sorted({*states, *(cid for c in counts.values() for cid in c)} - known)
    intervals: dict[str, float] = config.get("intervals", {})
    checks = []
    for cid in order + extra:
        if cid not in states and not any(cid in c for c in counts.values()):
            checks.append(CheckReport(cid, None, {n: WindowStats() for n, _ in WINDOWS},
                                      interval_s=intervals.get(cid)))
            continue
        lat = latencies.get(cid, {})
        state = states.get(cid)
        interval = intervals.get(cid)
        stale = bool(state and state.last_ts and interval and cid in known
                     and now - state.last_ts > STALE_FACTOR * interval + float(config.get("timeout_s", 10)))
        checks.append(CheckReport(
            check_id=cid, state=state, windows={n: WindowStats(**counts[n].get(cid, {})) for n, _ in WINDOWS},
            p50_ms=lat.get("p50"), p95_ms=lat.get("p95"), samples=int(lat.get("n", 0)), interval_s=interval,
            stale=stale))
    return ProbeReport(
        profile=profile, location=location, base_url=row["base_url"] if row is not None else "",
        slo=slo if slo is not None else (float(row["slo"]) if row is not None else 99.9),
        generated_at=now, since_s=since_s, checks=checks,
        incidents=store.incidents(profile, since=now - since_s),  # the profile's: shared by every location
        open_incident=store.open_incident(profile), config=config,
        started_at=row["started_at"] if row is not None else None, pid=row["pid"] if row is not None else None)


def slo(store: Store, profile: str, location: str, window_s: float = 365 * 86400.0,
        now: float | None = None) -> dict[str, Any]:
    """Uptime against the SLO over a window, per check and over all checks (rollups where raw results are gone)."""
    now = time.time() if now is None else now
    counts = store.outcome_counts(profile, location, now - window_s)
    per_check = {cid: WindowStats(**c) for cid, c in counts.items()}
    total = WindowStats(up=sum(w.up for w in per_check.values()), down=sum(w.down for w in per_check.values()),
                        unknown=sum(w.unknown for w in per_check.values()))
    targets = store.probe_targets(profile, location)
    target = float(targets[0]["slo"]) if targets else 99.9
    return {"window_s": window_s, "slo": target, "uptime": total.uptime, "budget_left": total.budget_left(target),
            "checks": {cid: w.uptime for cid, w in sorted(per_check.items())}}


def fmt_pct(value: float | None, digits: int = 3) -> str:
    """A percentage, or '-' without data."""
    if value is None:
        return "-"
    if value == -math.inf:
        return "exhausted"
    return f"{value:.{digits}f} %"


def fmt_ms(value: float | None) -> str:
    """Milliseconds, or '-'."""
    return "-" if value is None else (f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms")


def incident_dict(inc: Incident, now: float) -> dict[str, Any]:
    """An incident as JSON, with its duration (so far, when open)."""
    end = inc.resolved_at if inc.resolved_at is not None else now
    return {"id": inc.id, "started_at": iso(inc.started_at), "detected_at": iso(inc.detected_at),
            "resolved_at": iso(inc.resolved_at), "open": inc.resolved_at is None,
            "duration_s": round(max(0.0, end - inc.started_at), 3), "checks": inc.checks, "message": inc.message,
            "reminders": inc.reminders, "opened_by": inc.location, "locations": inc.locations}


def _window_json(w: WindowStats, slo: float) -> dict[str, Any]:
    budget = w.budget_left(slo)
    return {"up": w.up, "down": w.down, "unknown": w.unknown, "uptime": w.uptime,
            "budget_left": None if budget is None or budget == -math.inf else round(budget, 3),
            "budget_exhausted": budget is not None and budget <= 0}


def to_json(report: ProbeReport) -> dict[str, Any]:
    """The report as a JSON document (`probe report --json`, `probe status --json`)."""
    now = report.generated_at
    return {
        "target": report.profile, "location": report.location, "base_url": report.base_url, "slo": report.slo,
        "generated_at": iso(now), "since_s": report.since_s, "probe_started_at": iso(report.started_at),
        "downtime_s": round(report.downtime_s(), 3),
        "open_incident": incident_dict(report.open_incident, now) if report.open_incident else None,
        "checks": [{
            "id": c.check_id, "state": c.label, "stale": c.stale, "interval_s": c.interval_s,
            "consecutive_failures": c.state.consecutive_failures if c.state else 0,
            "last_run": iso(c.state.last_ts) if c.state else None,
            "last_message": c.state.last_message if c.state else None,
            "last_latency_ms": c.state.last_latency_ms if c.state else None,
            "p50_ms": c.p50_ms, "p95_ms": c.p95_ms, "samples": c.samples,
            "windows": {name: _window_json(w, report.slo) for name, w in c.windows.items()},
        } for c in report.checks],
        "incidents": [incident_dict(i, now) for i in report.incidents],
    }


def age(ts: float | None, now: float) -> str:
    """How long ago, e.g. '4 s ago'."""
    return "never" if ts is None else f"{human_duration(max(0.0, now - ts))} ago"
