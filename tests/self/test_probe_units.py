"""Probe building blocks without a target: incident rules, scheduler timing, report math, page, metrics."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import httpx
import pytest

from synthgate.probe import status_page
from synthgate.probe.incidents import IncidentTracker, Policy, advance, step
from synthgate.probe.jobs import Job, outcome_of
from synthgate.probe.metrics import ProbeMetrics
from synthgate.probe.report import WindowStats, build
from synthgate.probe.scheduler import Scheduler
from synthgate.probe.service import exit_code
from synthgate.store import CheckState, Incident, ProbeResult, Store


def res(outcome: str, ts: float, check: str = "health", latency: float | None = 10.0) -> ProbeResult:
    status = "passed" if outcome == "up" else "failed"
    return ProbeResult(check_id=check, ts=ts, duration_ms=latency or 0.0, status=status, outcome=outcome,
                       message="ok" if outcome == "up" else f"{check} broke", latency_ms=latency)


# -- incidents -------------------------------------------------------------------------------------------------------

def test_check_goes_down_after_fail_after_and_up_after_recover_after() -> None:
    policy = Policy(fail_after=2, recover_after=2)
    s = CheckState("health")
    assert [step(s, res(o, t), policy) for t, o in enumerate(["down", "down", "down"])] == [None, "down", None]
    assert s.consecutive_failures == 3 and s.failing_since == 0
    assert step(s, res("unknown", 3), policy) is None and s.consecutive_failures == 3  # no evidence, no change
    assert step(s, res("up", 4), policy) is None and s.down  # one success is not enough here
    assert step(s, res("down", 5), policy) is None  # still down: no second "down"
    assert [step(s, res("up", t), policy) for t in (6, 7)] == [None, "up"]
    assert s.recovering_since == 6 and not s.down


def test_one_incident_for_many_checks_and_exactly_two_alerts() -> None:
    policy = Policy(fail_after=2, recover_after=1)
    states: dict[str, CheckState] = {}
    incident: Incident | None = None
    events: list[str] = []
    timeline = [(0, "health", "up"), (1, "health", "down"), (1, "page", "down"), (2, "health", "down"),
                (2, "page", "down"), (3, "health", "down"), (3, "page", "down"), (4, "health", "up"),
                (4, "page", "down"), (5, "page", "up"), (6, "health", "up")]
    for ts, check, outcome in timeline:
        state, incident, kinds = advance(states, incident, res(outcome, ts, check), policy)
        states[check] = state
        events += kinds
        if "down" in kinds:
            assert incident is not None and incident.id is None
            incident.id = 1
    assert events == ["down", "recovered"]  # the page going down too joined the open incident
    assert incident is not None and incident.checks == ["health", "page"]
    assert incident.started_at == 1 and incident.detected_at == 2 and incident.resolved_at == 5
    assert incident.downtime_s == 4


def test_reminders_while_open_never_a_storm() -> None:
    policy = Policy(fail_after=1, recover_after=1, remind_every=10)
    states: dict[str, CheckState] = {}
    incident = None
    kinds_seen = []
    for ts in range(0, 31):
        state, incident, kinds = advance(states, incident, res("down", ts), policy)
        states["health"] = state
        kinds_seen += kinds
    assert kinds_seen == ["down", "reminder", "reminder", "reminder"]  # at 0, 10, 20, 30 s


def test_tracker_restores_counts_and_open_incident(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    policy = Policy(fail_after=3)
    with Store(db) as store:
        tracker = IncidentTracker(store, "demo", "eu", policy)
        for ts in (1.0, 2.0):
            tracker.record(res("down", ts))
    with Store(db) as store:  # a restarted probe
        tracker = IncidentTracker(store, "demo", "eu", policy)
        assert tracker.states["health"].consecutive_failures == 2
        _, events = tracker.record(res("down", 3.0))
        assert [e.kind for e in events] == ["down"] and events[0].incident.id == 1
        assert events[0].incident.started_at == 1.0  # downtime starts at the first failure, before the restart
    with Store(db) as store:
        tracker = IncidentTracker(store, "demo", "eu", policy)
        assert tracker.incident is not None and tracker.incident.id == 1
        _, events = tracker.record(res("up", 4.0))
        assert [e.kind for e in events] == ["recovered"]
        assert store.incidents("demo", "eu")[0].downtime_s == 3.0
        assert tracker.forget([], 5.0) == []  # nothing down any more: forgetting resolves nothing


def test_forgetting_a_removed_check_resolves_its_incident(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        tracker = IncidentTracker(store, "demo", "eu", Policy(fail_after=1))
        tracker.record(res("down", 1.0, check="old-check"))
        tracker.record(res("up", 1.0, check="health"))
        events = tracker.forget(["health"], 9.0)
        assert [e.kind for e in events] == ["recovered"] and store.open_incident("demo", "eu") is None
        assert set(store.check_states("demo", "eu")) == {"health"}


def test_outcomes_and_exit_codes() -> None:
    assert outcome_of("passed", None) == "up"
    assert outcome_of("failed", "assertion") == "down"
    assert outcome_of("failed", "error") == "down"  # connection refused, 5xx: the deployment answered
    assert outcome_of("failed", "unreachable") == "unknown"
    assert outcome_of("failed", "unreachable", unreachable="down") == "down"
    assert outcome_of("failed", "no-data", unreachable="down") == "unknown"
    assert exit_code([res("up", 0), res("down", 0), res("unknown", 0)]) == 1
    assert exit_code([res("up", 0), res("unknown", 0)]) == 4
    assert exit_code([res("up", 0)]) == 0


# -- scheduler -------------------------------------------------------------------------------------------------------

class Recorder:
    """Real jobs that sleep, and what the scheduler did with them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active: dict[str, int] = {}
        self.max_total = 0
        self.max_self = 0
        self.starts: dict[str, list[float]] = {}

    def job(self, jid: str, interval: float, sleep_s: float) -> Job:
        def run() -> list[ProbeResult]:
            with self.lock:
                self.active[jid] = self.active.get(jid, 0) + 1
                self.starts.setdefault(jid, []).append(time.monotonic())
                self.max_total = max(self.max_total, sum(self.active.values()))
                self.max_self = max(self.max_self, self.active[jid])
            time.sleep(sleep_s)
            with self.lock:
                self.active[jid] -= 1
            return [res("up", time.time(), jid)]

        return Job(jid, interval, run)


def run_for(scheduler: Scheduler, seconds: float) -> None:
    t = threading.Timer(seconds, scheduler.stop)
    t.start()
    scheduler.run_forever()
    t.cancel()


def test_run_once_bounds_parallelism() -> None:
    rec = Recorder()
    got: list[ProbeResult] = []
    sched = Scheduler([rec.job(f"j{n}", 60, 0.15) for n in range(6)], concurrency=2, jitter=0.5, on_result=got.append)
    started = time.monotonic()
    results = sched.run_once()
    assert sorted(r.check_id for r in results) == [f"j{n}" for n in range(6)] and len(got) == 6
    assert rec.max_total == 2
    assert time.monotonic() - started >= 0.4  # three waves of two


def test_a_slow_check_never_overlaps_itself_and_cadence_holds() -> None:
    rec = Recorder()
    slow, fast = rec.job("slow", 0.05, 0.3), rec.job("fast", 0.1, 0.0)
    sched = Scheduler([slow, fast], concurrency=4, jitter=0.0, on_result=lambda _r: None)
    run_for(sched, 1.2)
    assert rec.max_self == 1
    assert 3 <= len(rec.starts["slow"]) <= 5  # back to back, never a burst to catch up
    fast_gaps = [b - a for a, b in zip(rec.starts["fast"], rec.starts["fast"][1:], strict=False)]
    assert 10 <= len(rec.starts["fast"]) <= 14
    assert max(fast_gaps) < 0.25  # the slow check does not hold the fast one


def test_jitter_spreads_the_first_runs_and_stop_finishes_runs_in_flight() -> None:
    rec = Recorder()
    got: list[ProbeResult] = []
    jobs = [rec.job(f"j{n}", 2.0, 0.0) for n in range(20)] + [rec.job("long", 2.0, 0.5)]
    sched = Scheduler(jobs, concurrency=8, jitter=1.0, on_result=got.append, rng=random.Random(7))
    run_for(sched, 0.6)
    fired = len([j for j in rec.starts if j.startswith("j")])
    assert 0 < fired < 20  # spread over the 2 s interval, not all at once
    assert all(n == 0 for n in rec.active.values())  # anything started was finished and handed over
    assert len(got) == sum(len(v) for v in rec.starts.values())


def test_a_run_past_its_deadline_is_reported_timed_out_and_the_round_ends() -> None:
    rec = Recorder()
    stuck = rec.job("stuck", 60, 1.5)
    stuck.deadline_s = 0.3
    got: list[ProbeResult] = []
    sched = Scheduler([stuck, rec.job("quick", 60, 0.0)], concurrency=2, jitter=0.0, on_result=got.append)
    started = time.monotonic()
    results = sched.run_once()
    assert time.monotonic() - started < 1.2  # the round ends at the deadline, not when the stuck run does
    by_id = {r.check_id: r for r in results}
    assert by_id["quick"].outcome == "up"
    timed = by_id["stuck"]
    assert (timed.status, timed.outcome, timed.kind) == ("failed", "unknown", "no-data")
    assert "timed out" in timed.message and "0.3 s" in timed.message
    time.sleep(1.4)  # the stuck run ends on its own; its late answer is no second result
    assert len(got) == 2

    # scheduled: the timed-out job does not start again before its run has ended (never overlapping itself)
    rec = Recorder()
    stuck = rec.job("stuck", 0.1, 0.8)
    stuck.deadline_s = 0.2
    got = []
    run_for(Scheduler([stuck], concurrency=2, jitter=0.0, on_result=got.append), 2.0)
    assert rec.max_self == 1 and 2 <= len(rec.starts["stuck"]) <= 3
    assert got and all(r.kind == "no-data" for r in got)


# -- report, page, metrics -------------------------------------------------------------------------------------------

def test_uptime_and_error_budget() -> None:
    w = WindowStats(up=999, down=1, unknown=50)
    assert w.uptime == pytest.approx(99.9)
    assert w.budget_left(99.9) == pytest.approx(0.0, abs=1e-6)
    assert WindowStats(up=1998, down=2).budget_left(99.8) == pytest.approx(50.0)
    assert WindowStats(up=90, down=10).budget_left(99.0) < 0
    assert WindowStats(unknown=5).uptime is None


def test_report_and_status_page_are_right_and_self_contained(tmp_path: Path) -> None:
    now = 1_700_000_000.0
    with Store(tmp_path / "s.db") as store:
        store.register_probe("demo", "eu", "https://app.example", 99.0, {"checks": ["health"],
                                                                           "intervals": {"health": 60}})
        tracker = IncidentTracker(store, "demo", "eu", Policy(fail_after=2))
        for n in range(100):  # 100 runs a minute apart; runs 50-54 failed
            tracker.record(res("down" if 50 <= n < 55 else "up", now - 6000 + 60 * n, latency=float(n % 10 + 1)))
        report = build(store, "demo", "eu", since_s=86400, now=now)
        health = report.checks[0]
        assert health.windows["24h"].uptime == pytest.approx(95.0)
        assert health.p50_ms == 5.0 and health.p95_ms == 10.0
        assert len(report.incidents) == 1 and report.incidents[0].downtime_s == 300.0
        assert report.downtime_s() == 300.0
        page = status_page.write(store, "demo", "eu", tmp_path / "reports" / "status.html", now=now).read_text()
    assert "<svg" in page and "#1" in page and "5 min" in page
    assert "<script" not in page and "src=" not in page and "href=" not in page and "@import" not in page


def test_metrics_are_served_with_labels(tmp_path: Path) -> None:
    import socket

    metrics = ProbeMetrics("demo", "eu-west")
    state = CheckState("health", consecutive_failures=3, down=True)
    metrics.observe(res("down", time.time(), latency=42.0), state)
    metrics.set_incident(True)
    metrics.delivery("alerts[0].webhook", "down", "sent")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    metrics.serve(port, "127.0.0.1")
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    labels = 'check="health",location="eu-west",target="demo"'
    assert f"synthgate_probe_up{{{labels}}} 0.0" in text
    assert f"synthgate_probe_consecutive_failures{{{labels}}} 3.0" in text
    assert 'synthgate_probe_latency_seconds_bucket{check="health",le="0.05",location="eu-west",target="demo"} 1.0' \
        in text
    assert 'synthgate_probe_incidents_open{location="eu-west",target="demo"} 1.0' in text
    assert "synthgate_probe_alerts_total" in text and "process_resident_memory_bytes" in text
