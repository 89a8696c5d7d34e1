"""The SQLite store: WAL, atomic writes, state that survives reopening, run history, clear errors."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from synthgate.store import CheckState, Incident, ProbeResult, Store, StoreError, default_db_path


def result(check: str = "health", ts: float = 1000.0, outcome: str = "up", latency_ms: float = 10.0) -> ProbeResult:
    status = "passed" if outcome == "up" else "failed"
    return ProbeResult(check_id=check, ts=ts, duration_ms=12.5, status=status, outcome=outcome,
                       message="ok" if outcome == "up" else "status 500, expected 200", latency_ms=latency_ms)


def test_default_db_path_follows_synthgate_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SYNTHGATE_HOME", str(tmp_path / "sg"))
    assert default_db_path() == tmp_path / "sg" / "synthgate.db"
    monkeypatch.delenv("SYNTHGATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home" / ".local" / "share" / "synthgate" / "synthgate.db"


def test_wal_mode_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "s.db"
    with Store(path):
        pass
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"probe_results", "check_state", "incidents", "alerts", "probe_targets", "runs", "run_samples"} <= tables
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1


def test_record_is_atomic_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        state = CheckState("health", consecutive_failures=2, down=True, failing_since=1000.0, last_ts=1001.0,
                           last_outcome="down")
        inc = Incident(id=None, started_at=1000.0, detected_at=1001.0, checks=["health"], message="m",
                       last_alert_at=1001.0)
        rid = store.record("demo", "eu", result(ts=1001.0, outcome="down"), state, inc,
                           lambda i: [("down", "alerts[0].webhook", {"incident": i.id if i else None})])
        assert rid == 1 and inc.id == 1
        # a failure inside the transaction leaves nothing behind
        with pytest.raises(RuntimeError), store.transaction() as tx:
            tx.execute("INSERT INTO probe_results (profile, location, check_id, stage, ts, duration_ms, status, "
                       "outcome, attempts, message) VALUES ('demo', 'eu', 'x', 'smoke', 1, 1, 'passed', 'up', 1, '')")
            raise RuntimeError("crash mid-transaction")
    with Store(path) as store:
        assert store.result_count() == 1
        assert store.check_states("demo", "eu")["health"].consecutive_failures == 2
        assert store.check_states("demo", "eu")["health"].down is True
        opened = store.open_incident("demo", "eu")
        assert opened is not None and opened.checks == ["health"] and opened.started_at == 1000.0
        alert = store.next_alert("demo", "eu", "alerts[0].webhook")
        assert alert is not None and alert.payload == {"incident": 1} and alert.status == "pending"
        assert store.open_incident("demo", "us") is None  # locations are separate


def test_results_queries(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        for n in range(10):
            outcome = "down" if n in (3, 4) else "unknown" if n == 7 else "up"
            store.record("demo", "eu", result(ts=1000.0 + n, outcome=outcome), CheckState("health"), None)
        store.record("demo", "eu", result("page", ts=1005.0), CheckState("page"), None)
        assert [r.ts for r in store.results("demo", "eu", check_id="health", limit=3)] == [1007.0, 1008.0, 1009.0]
        assert store.outcome_counts("demo", "eu", since=1002.0)["health"] == {"up": 5, "down": 2, "unknown": 1}
        assert store.latency_percentiles("demo", "eu", since=0)["health"]["n"] == 9  # unknown: no latency
        by_bucket = store.buckets("demo", "eu", start=1000.0, width_s=5.0, count=2)["health"]
        assert [(up, down) for up, down, _lat in by_bucket] == [(3, 2), (4, 0)]
        assert store.prune(older_than=1005.0) == 5
        assert store.result_count("demo", "eu") == 6


def test_latency_percentiles_match_nearest_rank(tmp_path: Path) -> None:
    """The SQL percentiles equal the nearest-rank definition on the same samples."""
    import math
    import random

    rng = random.Random(3)
    values = [rng.lognormvariate(3, 0.7) for _ in range(257)]
    with Store(tmp_path / "s.db") as store:
        for n, v in enumerate(values):
            store.record("demo", "eu", result(ts=1000.0 + n, latency_ms=v), CheckState("health"), None)
        got = store.latency_percentiles("demo", "eu", since=0, percentiles=(50, 95, 99))["health"]
    ordered = sorted(values)
    for q in (50, 95, 99):
        assert got[f"p{q}"] == ordered[math.ceil(q / 100 * len(ordered)) - 1]


def test_run_history(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        first = store.add_run("demo", "demo", "1.4.0", "pass", "2025-01-01T00:00:00+00:00", "reports", "{}",
                              samples={"GET /v1/health": b"HISTFAAA", "POST /api/generate": "HISTFBBB"},
                              encoding="hdr-base64")
        store.add_run("demo", "demo", "1.4.1", "fail", "2025-01-02T00:00:00+00:00", None, "{}")
        assert [r["release"] for r in store.runs("demo")] == ["1.4.1", "1.4.0"]
        assert [r["id"] for r in store.runs("demo", verdict="pass")] == [first]
        assert store.run_samples(first) == {"GET /v1/health": ("hdr-base64", b"HISTFAAA"),
                                            "POST /api/generate": ("hdr-base64", b"HISTFBBB")}


def test_unusable_files_give_clear_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not a usable synthgate database"):
        Store(junk)
    newer = tmp_path / "newer.db"
    sqlite3.connect(newer).execute("PRAGMA user_version=99").connection.commit()
    with pytest.raises(StoreError, match="newer synthgate"):
        Store(newer)


def test_a_second_process_reads_while_one_writes(tmp_path: Path) -> None:
    """WAL: a reader in another process sees committed rows while the writer keeps its connection open."""
    path = tmp_path / "s.db"
    with Store(path) as store:
        for n in range(5):
            store.record("demo", "eu", result(ts=1000.0 + n), CheckState("health"), None)
        code = textwrap.dedent(f"""
            from synthgate.store import Store
            with Store({str(path)!r}) as s:
                print(s.result_count())
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
        assert out.stdout.strip() == "5"


def test_alerts_of_removed_channels_expire(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        rows = [("down", "alerts[0].webhook", {}), ("down", "alerts[1].command", {})]
        store.save_states("demo", "eu", [], None, rows)
        assert store.expire_orphans("demo", "eu", ["alerts[0].webhook"]) == 1
        assert [(a.channel, a.status) for a in store.alerts("demo", "eu")] == [("alerts[0].webhook", "pending"),
                                                                               ("alerts[1].command", "expired")]
