"""The store on both backends (SQLite and a real PostgreSQL): atomic writes, state that survives reopening and
kill -9, run history, migrations, locks, clear errors."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from synthgate.store import (
    SCHEMA_VERSION,
    CheckState,
    Incident,
    ProbeResult,
    Store,
    StoreError,
    default_db_path,
    resolve_db,
)


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
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")] == \
        list(range(1, SCHEMA_VERSION + 1))


def test_record_is_atomic_and_survives_reopening(db_target: str) -> None:
    path = db_target
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
        assert store.open_incident("other") is None  # profiles are separate
        assert store.open_incident("demo", "us") is not None  # locations share the profile's incident


def test_results_queries(db_target: str) -> None:
    with Store(db_target) as store:
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


def test_latency_percentiles_match_nearest_rank(db_target: str) -> None:
    """The SQL percentiles equal the nearest-rank definition on the same samples."""
    import math
    import random

    rng = random.Random(3)
    values = [rng.lognormvariate(3, 0.7) for _ in range(257)]
    with Store(db_target) as store:
        for n, v in enumerate(values):
            store.record("demo", "eu", result(ts=1000.0 + n, latency_ms=v), CheckState("health"), None)
        got = store.latency_percentiles("demo", "eu", since=0, percentiles=(50, 95, 99))["health"]
    ordered = sorted(values)
    for q in (50, 95, 99):
        assert got[f"p{q}"] == ordered[math.ceil(q / 100 * len(ordered)) - 1]


def test_run_history(db_target: str) -> None:
    with Store(db_target) as store:
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


def test_a_second_process_reads_while_one_writes(db_target: str) -> None:
    """A reader in another process sees committed rows while the writer keeps its connection open (WAL on SQLite)."""
    path = db_target
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


def test_alerts_of_removed_channels_expire(db_target: str) -> None:
    with Store(db_target) as store:
        rows = [("down", "alerts[0].webhook", {}), ("down", "alerts[1].command", {})]
        store.save_states("demo", "eu", [], None, rows)
        assert store.expire_orphans("demo", "eu", ["alerts[0].webhook"]) == 1
        assert [(a.channel, a.status) for a in store.alerts("demo", "eu")] == [("alerts[0].webhook", "pending"),
                                                                               ("alerts[1].command", "expired")]


def test_kill_9_loses_nothing_committed(db_target: str) -> None:
    """A writer killed with SIGKILL mid-stream: every result it printed as committed is there afterwards."""
    code = textwrap.dedent(f"""
        import itertools, sys
        from synthgate.store import CheckState, ProbeResult, Store
        with Store({db_target!r}) as s:
            for n in itertools.count():
                s.record("demo", "eu", ProbeResult("health", 1000.0 + n, 1.0, "passed", "up"), CheckState("health"),
                         None)
                print(n + 1, flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    printed = 0
    for line in proc.stdout:
        printed = int(line)
        if printed >= 40:
            break
    proc.kill()
    proc.wait(timeout=30)
    with Store(db_target) as store:
        assert store.result_count() >= printed  # printed only after the commit returned


def test_one_shared_incident_however_many_processes_race(db_target: str) -> None:
    """Six processes decide the same outage at once: one incident opens, one "down" row reaches the outbox."""
    code = textwrap.dedent(f"""
        import sys
        from synthgate.store import CheckState, Incident, ProbeResult, Store
        loc = sys.argv[1]
        def decide(states, incident):
            if incident is not None:
                return None, []
            return Incident(None, 1000.0, 1001.0, ["health"], "down"), ["down"]
        with Store({db_target!r}) as s:
            state = CheckState("health", consecutive_failures=2, down=True, last_ts=1001.0)
            _, inc, events = s.record_shared("demo", loc, ProbeResult("health", 1001.0, 1.0, "failed", "down"),
                                             [state], decide, lambda i: [("down", "hook", {{"by": loc}})])
            print(events)
    """)
    Store(db_target).close()  # migrations first, so the race is about the incident only
    procs = [subprocess.Popen([sys.executable, "-c", code, f"loc{n}"], stdout=subprocess.PIPE, text=True)
             for n in range(6)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sum("down" in o for o in outs) == 1
    with Store(db_target) as store:
        assert len(store.incidents("demo")) == 1
        assert len([a for a in store.alerts("demo") if a.event == "down"]) == 1
        assert set(store.all_check_states("demo")) == {f"loc{n}" for n in range(6)}


def test_an_open_incident_is_unique_per_profile(db_target: str) -> None:
    """The database itself refuses a second open incident of a profile (the backstop of the transaction)."""
    with Store(db_target) as store:
        store.save_states("demo", "eu", [], Incident(None, 1.0, 2.0, ["health"], "m"))
        with pytest.raises(Exception):  # noqa: B017 - sqlite3.IntegrityError or StoreError
            store.save_states("demo", "us", [], Incident(None, 1.0, 2.0, ["health"], "m"))
        assert len(store.incidents("demo")) == 1


def test_exclusive_lock_is_held_across_processes(db_target: str) -> None:
    holder = textwrap.dedent(f"""
        import time
        from synthgate.store import Store
        with Store({db_target!r}) as s, s.exclusive("rollback:demo", wait_s=5) as got:
            print(got, flush=True)
            time.sleep(3)
    """)
    with Store(db_target) as store:
        proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "True"
        with store.exclusive("rollback:demo", wait_s=0.5) as got:
            assert got is False  # held elsewhere
        assert store.lock_holder("rollback:demo") != "?"
        with store.exclusive("rollback:other", wait_s=0.5) as got:
            assert got is True  # another name is another lock
        with store.exclusive("rollback:demo", wait_s=30) as got:
            assert got is True  # released when the holder ended
        proc.wait(timeout=30)


def test_rollback_records_use_one_clock(db_target: str) -> None:
    with Store(db_target) as store:
        assert store.last_rollback_finished("d") is None
        rid = store.rollback_started("d", "demo", "http://x")
        assert store.last_rollback_finished("d") is None  # not finished yet
        store.rollback_finished(rid, 0)
        finished = store.last_rollback_finished("d")
        assert finished is not None and abs(finished - store.now()) < 5
        failed = store.rollback_started("d", "demo", "http://x")
        store.rollback_finished(failed, 1)
        assert store.last_rollback_finished("d") == finished  # a failed rollback restored nothing
        assert [r["exit_code"] for r in store.rollbacks("d")] == [0, 1]


def test_a_version_1_sqlite_database_is_migrated(tmp_path: Path) -> None:
    """A database from before the schema_version table keeps its rows and gains the new tables."""
    from synthgate.store import schema

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for statement in schema.statements(schema.MIGRATIONS[0].ddl, "sqlite"):
        conn.execute(statement)
    conn.execute("INSERT INTO runs (profile, target, verdict, started_at, verdict_json) VALUES "
                 "('demo', 't', 'pass', '2025', '{}')")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert [r["profile"] for r in store.runs("demo")] == ["demo"]
        assert store.rollbacks() == []
        assert store.query("SELECT max(version) FROM schema_version")[0][0] == SCHEMA_VERSION


def test_resolve_db_prefers_the_option_then_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    monkeypatch.setenv("SYNTHGATE_HOME", str(tmp_path))
    assert resolve_db(None) == tmp_path / "synthgate.db"
    monkeypatch.setenv("SYNTHGATE_DB", "postgresql://u:secret@db.example/sg")
    assert resolve_db(None) == "postgresql://u:secret@db.example/sg"
    assert resolve_db(str(tmp_path / "x.db")) == tmp_path / "x.db"


def test_unreachable_postgres_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL") as info:
        Store("postgresql://u:hunter2@127.0.0.1:1/sg")
    assert "hunter2" not in str(info.value)
