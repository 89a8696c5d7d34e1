"""Probe history beyond the raw results: hourly and daily rollups, on SQLite and PostgreSQL alike.

Each test writes real results through the store, rolls them up, prunes the raw rows and reads the window
back through the same calls `probe report`, the SLO and the status page make.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from synthgate.probe.report import build, slo
from synthgate.store import ProbeResult, Store, rollups

ROOT = Path(__file__).resolve().parents[2]
P, L = "shop", "eu"
HOUR, DAY = rollups.HOUR, rollups.DAY


def history(start: float, hours: int, checks: int = 3, seed: int = 1) -> list[ProbeResult]:
    """One result per check and minute; some down, some unknown, latencies spread over two decades."""
    rng = random.Random(seed)
    out = []
    for minute in range(hours * 60):
        for i in range(checks):
            r = rng.random()
            outcome = "down" if r < 0.05 else "unknown" if r < 0.08 else "up"
            lat = None if outcome == "unknown" else rng.choice((5.0, 20.0, 80.0)) * (1 + rng.random())
            out.append(ProbeResult(f"c{i}", start + minute * 60 + i, 10.0, "passed" if outcome == "up" else "failed",
                                   outcome, latency_ms=lat))
    return out


def exact_counts(results: list[ProbeResult], since: float) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in results:
        if r.ts >= since:
            out.setdefault(r.check_id, {"up": 0, "down": 0, "unknown": 0})[r.outcome] += 1
    return out


def test_rollups_are_idempotent_incremental_and_replace_pruned_history(db_target: str) -> None:
    """Two roll-ups (two store connections, as two probes) never double-count; after pruning, the counts of
    a window reaching past the raw results are still exact, percentiles within a bucket, charts complete."""
    now = rollups.floor_to(1_790_000_000, DAY) + 5 * HOUR + 1800  # half past five, day 0
    start = now - 2 * DAY - 5 * HOUR - 1800  # two whole days and the hours of today
    results = history(start, hours=53, checks=3)
    with Store(db_target) as one, Store(db_target) as two:
        one.register_probe(P, L, "http://127.0.0.1:9", 99.0, {"checks": ["c0", "c1", "c2"]})
        one.insert_results(P, L, results)
        assert one.roll_up(P, L, until=now - 3 * HOUR) > 0
        assert two.roll_up(P, L, until=now - 3 * HOUR) == 0  # nothing new: the watermark holds
        one.roll_up(P, L, until=now)  # incremental: the rest, the last rolled hour again
        two.roll_up(P, L, until=now)
        hourly = one.query("SELECT sum(n) FROM probe_rollups WHERE span=?", (HOUR,))[0][0]
        daily = one.query("SELECT sum(n), count(*) FROM probe_rollups WHERE span=?", (DAY,))[0]
        complete = [r for r in results if r.ts < rollups.floor_to(now, HOUR)]
        assert hourly == len(complete)  # every result once, however many roll-ups ran
        assert daily[0] == sum(1 for r in results if r.ts < rollups.floor_to(now, DAY)) and daily[1] == 2 * 3

        window = now - start
        before = one.outcome_counts(P, L, start)
        assert before == exact_counts(results, start)
        exact = one.latency_percentiles(P, L, start, (50.0, 95.0))
        pruned = one.prune(now - 12 * HOUR)
        assert pruned == sum(1 for r in results if r.ts < now - 12 * HOUR)
        assert one.result_count(P, L) == len(results) - pruned
        # the same window now reads rollups for what was pruned, and matches
        assert one.outcome_counts(P, L, now - window) == before
        assert two.outcome_counts(P, L, now - window) == before
        approx = one.latency_percentiles(P, L, now - window, (50.0, 95.0))
        for cid, stats in exact.items():
            assert approx[cid]["n"] == stats["n"]
            for q in ("p50", "p95"):
                assert abs(approx[cid][q] - stats[q]) <= 0.1 * stats[q], (cid, q, approx[cid][q], stats[q])
        assert one.first_result_ts(P, L, now - window) == start
        charts = one.buckets(P, L, now - window, window / 53, 53)
        assert sum(up + down for up, down, _ in charts["c0"]) == sum(
            1 for r in results if r.check_id == "c0" and r.outcome != "unknown")
        # a short window still inside the raw results is exact as before (raw plus whole rolled-up hours)
        assert one.outcome_counts(P, L, now - 7200 - 600) == exact_counts(results, now - 7200 - 600)

        # the report and the SLO over 365 days see the whole history
        report = build(one, P, L, since_s=365 * DAY, now=now)
        year = {c.check_id: c.windows["365d"] for c in report.checks}
        assert {cid: (w.up, w.down, w.unknown) for cid, w in year.items()} == {
            cid: (c["up"], c["down"], c["unknown"]) for cid, c in before.items()}
        assert report.checks[0].p95_ms is not None
        total = exact_counts(results, start)
        up = sum(c["up"] for c in total.values())
        down = sum(c["down"] for c in total.values())
        assert slo(one, P, L, 365 * DAY, now=now)["uptime"] == pytest.approx(100.0 * up / (up + down))


def test_a_late_result_is_counted_once_when_its_hour_is_rolled_again(tmp_path: Path) -> None:
    """A result that arrives after its hour was rolled up lands in the re-rolled last hour, once."""
    hour = rollups.floor_to(1_790_000_000, HOUR)
    with Store(tmp_path / "h.db") as store:
        store.insert_results(P, L, history(hour, hours=1, checks=1))
        store.roll_up(P, L, until=hour + HOUR + 60)
        store.insert_results(P, L, [ProbeResult("c0", hour + 3599, 10.0, "failed", "down", latency_ms=9.0)])
        store.roll_up(P, L, until=hour + 2 * HOUR + 60)
        store.roll_up(P, L, until=hour + 2 * HOUR + 60)
        row = store.query("SELECT n, n_down FROM probe_rollups WHERE span=? AND start=?", (HOUR, hour))[0]
        raw = store.outcome_counts(P, L, hour)["c0"]
        assert row[0] == 61 and row[1] == raw["down"]


def test_minutes_count_each_minute_once_by_its_worst_outcome() -> None:
    """Two results in one minute (a retry, two probes): one minute, down if either was down."""
    rows = [("a", 60.0, "passed", "up", 5.0), ("a", 90.0, "failed", "down", 7.0), ("a", 130.0, "passed", "up", 5.0)]
    r = rollups.aggregate(rows)[("a", 0)]
    assert (r.n, r.n_up, r.n_down, r.up_min, r.down_min) == (3, 2, 1, 1, 1)
    assert rollups.percentile_ms(r.hist, 100) == pytest.approx(7.0, rel=0.1)


def test_the_benchmark_prints_its_json_line_last(tmp_path: Path) -> None:
    """benchmarks/probe_history.py on a small history: the last line is the JSON the acceptance reads."""
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "probe_history.py"), "--days", "3",
                          "--checks", "4", "--retention-days", "1", "--db", str(tmp_path / "b.db")],
                         capture_output=True, text=True, timeout=300, check=True)
    line = json.loads(out.stdout.strip().splitlines()[-1])
    assert line["bytes"] > 0 and line["report_s"] >= 0 and line["slo_s"] >= 0
    assert line["rollups"] > 3 * 24 * 4 * 0.5 and line["raw_results"] > 0


def test_a_long_window_reads_weeks_days_and_hours_that_tile_it_exactly(tmp_path: Path) -> None:
    """Three weeks of history: the weekly rollups hold what their days and hours hold, and the 20-day window
    read through weeks, days and hours gives the raw counts."""
    from synthgate.store.base import _segments

    start = rollups.floor_to(1_790_000_000, rollups.WEEK) - 3 * HOUR
    end = start + 23 * DAY
    segments = _segments(start, end)
    assert [s[0] for s in segments].count(rollups.WEEK) == 1 and segments[0][1] == start
    assert all(a[2] == b[1] for a, b in zip(segments, segments[1:], strict=False)) and segments[-1][2] == end
    results = [ProbeResult("c0", start + m * 600, 5.0, "passed" if m % 50 else "failed", "up" if m % 50 else "down",
                           latency_ms=float(1 + m % 30)) for m in range(23 * 144)]
    with Store(tmp_path / "w.db") as store:
        store.insert_results(P, L, results)
        store.roll_up(P, L, until=end)
        weeks = [int(r[0]) for r in store.query("SELECT n FROM probe_rollups WHERE span=? ORDER BY start",
                                                (rollups.WEEK,))]
        assert weeks == [18, 7 * 144, 7 * 144, 7 * 144]  # 3 hours of the week before, three whole weeks
        store.prune(end, rollups_older_than=0)
        assert store.result_count(P, L) == 0
        assert store.outcome_counts(P, L, start) == exact_counts(results, start)


def test_a_gap_of_years_between_results_is_rolled_over_in_few_statements(tmp_path: Path) -> None:
    """A first result three years before the next: both hours, days and weeks are rolled up, and the empty
    years between are skipped, not walked a day at a time (thousands of transactions on PostgreSQL)."""
    old = rollups.floor_to(1_700_000_000, rollups.WEEK) + 3 * HOUR  # a Thursday 03:00, in week w
    new = old + 3 * 365 * DAY
    with Store(str(tmp_path / "s.db")) as store:
        store.insert_results(P, L, [ProbeResult("c0", old, 10.0, "passed", "up", latency_ms=5.0),
                                    ProbeResult("c0", new, 10.0, "failed", "down", latency_ms=9.0)])
        statements = []
        query = store.query
        store.query = lambda sql, params=(): (statements.append(sql), query(sql, params))[1]  # type: ignore[method-assign]
        store.roll_up(P, L, until=new + 2 * rollups.WEEK)
        spans = {span: n for span, n in store.query("SELECT span, sum(n) FROM probe_rollups GROUP BY span")}
    assert spans == {HOUR: 2, DAY: 2, rollups.WEEK: 2}  # each result once at each level, years apart
    assert len(statements) < 60, len(statements)
