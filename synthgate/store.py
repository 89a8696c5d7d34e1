"""The one SQLite store: probe results, check state, incidents, alert outbox, and the gate's run history.

One file in WAL mode, shared by `synthgate probe` and `synthgate run` (baseline comparison). Every write is its own
short transaction, committed before anything is printed or alerted, so a `kill -9` loses nothing that was committed.
`synchronous=NORMAL` in WAL mode survives any crash of the process; only an OS crash or power loss may drop the
last commits (FULL would fsync every result and cost throughput for a risk probes can live with).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
OutboxRow = tuple[str, str, dict[str, Any]]  # (event, channel key, alert document)
BUSY_TIMEOUT_S = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS probe_targets (
    profile     TEXT NOT NULL,
    location    TEXT NOT NULL,
    base_url    TEXT NOT NULL,
    slo         REAL NOT NULL,
    config_json TEXT NOT NULL,
    started_at  REAL NOT NULL,
    pid         INTEGER,
    PRIMARY KEY (profile, location)
);
CREATE TABLE IF NOT EXISTS probe_results (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    profile     TEXT NOT NULL,
    location    TEXT NOT NULL,
    check_id    TEXT NOT NULL,
    stage       TEXT NOT NULL,
    ts          REAL NOT NULL,
    duration_ms REAL NOT NULL,
    latency_ms  REAL,
    status      TEXT NOT NULL CHECK (status IN ('passed', 'failed')),
    outcome     TEXT NOT NULL CHECK (outcome IN ('up', 'down', 'unknown')),
    kind        TEXT,
    attempts    INTEGER NOT NULL,
    message     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS probe_results_by_check ON probe_results (profile, location, check_id, ts);
CREATE INDEX IF NOT EXISTS probe_results_by_time ON probe_results (ts);
CREATE TABLE IF NOT EXISTS check_state (
    profile               TEXT NOT NULL,
    location              TEXT NOT NULL,
    check_id              TEXT NOT NULL,
    stage                 TEXT NOT NULL,
    consecutive_failures  INTEGER NOT NULL,
    consecutive_successes INTEGER NOT NULL,
    down                  INTEGER NOT NULL,
    failing_since         REAL,
    recovering_since      REAL,
    last_ts               REAL,
    last_outcome          TEXT,
    last_message          TEXT NOT NULL DEFAULT '',
    last_latency_ms       REAL,
    PRIMARY KEY (profile, location, check_id)
);
CREATE TABLE IF NOT EXISTS incidents (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    profile       TEXT NOT NULL,
    location      TEXT NOT NULL,
    started_at    REAL NOT NULL,
    detected_at   REAL NOT NULL,
    resolved_at   REAL,
    checks_json   TEXT NOT NULL,
    message       TEXT NOT NULL,
    last_alert_at REAL NOT NULL,
    reminders     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS incidents_by_target ON incidents (profile, location, resolved_at);
CREATE TABLE IF NOT EXISTS alerts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id     INTEGER REFERENCES incidents (id),
    profile         TEXT NOT NULL,
    location        TEXT NOT NULL,
    event           TEXT NOT NULL,
    channel         TEXT NOT NULL,
    payload_json    TEXT NOT NULL,
    created_at      REAL NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'expired')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT,
    sent_at         REAL
);
CREATE INDEX IF NOT EXISTS alerts_pending ON alerts (profile, location, channel, status, id);
CREATE TABLE IF NOT EXISTS runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    profile      TEXT NOT NULL,
    target       TEXT NOT NULL,
    release      TEXT,
    verdict      TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    reports_dir  TEXT,
    verdict_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_profile ON runs (profile, started_at);
CREATE TABLE IF NOT EXISTS run_samples (
    run_id   INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    encoding TEXT NOT NULL DEFAULT '',
    samples  BLOB NOT NULL,
    PRIMARY KEY (run_id, name)
);
"""


class StoreError(Exception):
    """The database cannot be opened or used; the message is meant for the user as is."""


def default_db_path() -> Path:
    """`$SYNTHGATE_HOME/synthgate.db`, else `~/.local/share/synthgate/synthgate.db`."""
    home = os.environ.get("SYNTHGATE_HOME")
    if home:
        return Path(home).expanduser() / "synthgate.db"
    return Path.home() / ".local" / "share" / "synthgate" / "synthgate.db"


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
    location: str = ""

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


class Store:
    """The SQLite store (WAL). Thread-safe: one connection, one lock, one short transaction per write."""

    def __init__(self, path: Path | str, timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(self.path), timeout=timeout_s, isolation_level=None,
                                         check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{self.path}: cannot open the database: {exc}") from None
        self._conn.row_factory = sqlite3.Row
        try:
            self._setup(timeout_s)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreError(f"{self.path}: not a usable synthgate database: {exc}") from None

    def _setup(self, timeout_s: float) -> None:
        conn = self._conn
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.DatabaseError(f"cannot switch to WAL mode (journal mode is {mode})")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"written by a newer synthgate (schema {version}, this one knows "
                                        f"{SCHEMA_VERSION})")
        with self.transaction() as tx:
            tx.executescript_in_tx(_SCHEMA)
            tx.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # -- plumbing ------------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (everything is committed already)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[_Tx]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT); rolled back if the block raises."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Tx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        """Rows of one read query."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- probes: targets and results -----------------------------------------------------------------------------

    def register_probe(self, profile: str, location: str, base_url: str, slo: float, config: dict[str, Any]) -> None:
        """Record (or refresh) what a probe process watches, for `probe status` and `probe report`."""
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO probe_targets (profile, location, base_url, slo, config_json, started_at, pid) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (profile, location) DO UPDATE SET "
                "base_url=excluded.base_url, slo=excluded.slo, config_json=excluded.config_json, "
                "started_at=excluded.started_at, pid=excluded.pid",
                (profile, location, base_url, slo, json.dumps(config), time.time(), os.getpid()),
            )

    def probe_targets(self, profile: str | None = None, location: str | None = None) -> list[sqlite3.Row]:
        """Every probed (profile, location), optionally filtered."""
        sql, params = _where("SELECT * FROM probe_targets", profile=profile, location=location)
        return self.query(sql + " ORDER BY profile, location", params)

    def results(self, profile: str, location: str, since: float | None = None, check_id: str | None = None,
                limit: int | None = None) -> list[ProbeResult]:
        """Stored results in time order (the newest `limit` ones when a limit is given)."""
        sql = "SELECT * FROM probe_results WHERE profile=? AND location=?"
        params: list[Any] = [profile, location]
        if since is not None:
            sql += " AND ts>=?"
            params.append(since)
        if check_id is not None:
            sql += " AND check_id=?"
            params.append(check_id)
        if limit is not None:
            sql = f"SELECT * FROM ({sql} ORDER BY id DESC LIMIT ?)"
            params.append(limit)
        rows = self.query(sql + " ORDER BY ts, id", params)
        return [_result(r) for r in rows]

    def result_count(self, profile: str | None = None, location: str | None = None) -> int:
        """How many results are stored."""
        sql, params = _where("SELECT count(*) FROM probe_results", profile=profile, location=location)
        return int(self.query(sql, params)[0][0])

    def outcome_counts(self, profile: str, location: str, since: float) -> dict[str, dict[str, int]]:
        """check id -> {"up": n, "down": n, "unknown": n} since a time."""
        rows = self.query(
            "SELECT check_id, outcome, count(*) AS n FROM probe_results WHERE profile=? AND location=? AND ts>=? "
            "GROUP BY check_id, outcome", (profile, location, since))
        out: dict[str, dict[str, int]] = {}
        for r in rows:
            out.setdefault(r["check_id"], {"up": 0, "down": 0, "unknown": 0})[r["outcome"]] = int(r["n"])
        return out

    def latency_percentiles(self, profile: str, location: str, since: float,
                            percentiles: Sequence[float] = (50.0, 95.0)) -> dict[str, dict[str, float]]:
        """check id -> {"n": samples, "p50": ms, ...} (nearest rank) over results with an answer since a time.

        SQLite sorts and picks the ranks, so memory stays flat however long the history is.
        """
        answered = ("FROM probe_results WHERE profile=? AND location=? AND ts>=? AND outcome!='unknown' "
                    "AND latency_ms IS NOT NULL")
        base = (profile, location, since)
        out: dict[str, dict[str, float]] = {}
        for r in self.query(f"SELECT check_id, count(*) AS n {answered} GROUP BY check_id", base):
            n = int(r["n"])
            stats: dict[str, float] = {"n": float(n)}
            for q in percentiles:
                rank = max(1, min(n, math.ceil(q / 100.0 * n)))
                row = self.query(f"SELECT latency_ms {answered} AND check_id=? ORDER BY latency_ms LIMIT 1 OFFSET ?",
                                 (*base, r["check_id"], rank - 1))
                stats[f"p{q:g}"] = float(row[0][0])
            out[r["check_id"]] = stats
        return out

    def buckets(self, profile: str, location: str, start: float, width_s: float,
                count: int) -> dict[str, list[tuple[int, int, float | None]]]:
        """check id -> `count` time buckets from `start`: (up, down, mean latency ms), for charts."""
        rows = self.query(
            "SELECT check_id, min(CAST((ts - ?) / ? AS INTEGER), ?) AS b, sum(outcome='up') AS up, "
            "sum(outcome='down') AS down, avg(CASE WHEN outcome!='unknown' THEN latency_ms END) AS lat "
            "FROM probe_results WHERE profile=? AND location=? AND ts>=? GROUP BY check_id, b",
            (start, width_s, count - 1, profile, location, start))
        out: dict[str, list[tuple[int, int, float | None]]] = {}
        for r in rows:
            series = out.setdefault(r["check_id"], [(0, 0, None)] * count)
            series[int(r["b"])] = (int(r["up"]), int(r["down"]), r["lat"])
        return out

    def prune(self, older_than: float) -> int:
        """Delete results (and resolved incidents and finished alerts) older than a time; returns results deleted."""
        with self.transaction() as tx:
            n = tx.execute("DELETE FROM probe_results WHERE ts<?", (older_than,)).rowcount
            tx.execute("DELETE FROM alerts WHERE created_at<? AND status!='pending'", (older_than,))
            tx.execute("DELETE FROM incidents WHERE resolved_at IS NOT NULL AND resolved_at<? AND id NOT IN "
                       "(SELECT incident_id FROM alerts WHERE incident_id IS NOT NULL)", (older_than,))
        return int(n)

    # -- probes: state and incidents -----------------------------------------------------------------------------

    def check_states(self, profile: str, location: str) -> dict[str, CheckState]:
        """The stored state of every check of a probed target."""
        rows = self.query("SELECT * FROM check_state WHERE profile=? AND location=? ORDER BY check_id",
                          (profile, location))
        return {r["check_id"]: _state(r) for r in rows}

    def open_incident(self, profile: str, location: str) -> Incident | None:
        """The open incident of a probed target, if any."""
        rows = self.query("SELECT * FROM incidents WHERE profile=? AND location=? AND resolved_at IS NULL "
                          "ORDER BY id DESC LIMIT 1", (profile, location))
        return _incident(rows[0]) if rows else None

    def incidents(self, profile: str | None = None, location: str | None = None,
                  since: float | None = None) -> list[Incident]:
        """Incidents that were open at some time since `since` (all when None), oldest first."""
        sql, params = _where("SELECT * FROM incidents", profile=profile, location=location)
        if since is not None:
            sql += (" AND" if params else " WHERE") + " (resolved_at IS NULL OR resolved_at>=?)"
            params.append(since)
        return [_incident(r) for r in self.query(sql + " ORDER BY started_at, id", params)]

    def record(self, profile: str, location: str, result: ProbeResult, state: CheckState,
               incident: Incident | None, alerts: Outbox = ()) -> int:
        """Commit one result with the check state, incident and alerts it led to, atomically; returns its id.

        `alerts` holds (event, channel, payload) rows for the outbox, or makes them once a new incident has its id.
        """
        with self.transaction() as tx:
            rid = tx.execute(
                "INSERT INTO probe_results (profile, location, check_id, stage, ts, duration_ms, latency_ms, status, "
                "outcome, kind, attempts, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (profile, location, result.check_id, result.stage, result.ts, result.duration_ms, result.latency_ms,
                 result.status, result.outcome, result.kind, result.attempts, result.message),
            ).lastrowid
            self._save_state(tx, profile, location, state)
            if incident is not None:
                self._save_incident(tx, profile, location, incident)
            self._enqueue_all(tx, profile, location, incident, alerts)
        return int(rid or 0)

    def save_states(self, profile: str, location: str, states: Sequence[CheckState],
                    incident: Incident | None = None, alerts: Outbox = ()) -> None:
        """Commit check states (and an incident change with its alerts) without a result."""
        with self.transaction() as tx:
            for state in states:
                self._save_state(tx, profile, location, state)
            if incident is not None:
                self._save_incident(tx, profile, location, incident)
            self._enqueue_all(tx, profile, location, incident, alerts)

    def delete_states(self, profile: str, location: str, check_ids: Sequence[str]) -> None:
        """Forget checks that the profile no longer has."""
        with self.transaction() as tx:
            for cid in check_ids:
                tx.execute("DELETE FROM check_state WHERE profile=? AND location=? AND check_id=?",
                           (profile, location, cid))

    @staticmethod
    def _save_state(tx: _Tx, profile: str, location: str, s: CheckState) -> None:
        tx.execute(
            "INSERT OR REPLACE INTO check_state (profile, location, check_id, stage, consecutive_failures, "
            "consecutive_successes, down, failing_since, recovering_since, last_ts, last_outcome, last_message, "
            "last_latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (profile, location, s.check_id, s.stage, s.consecutive_failures, s.consecutive_successes, int(s.down),
             s.failing_since, s.recovering_since, s.last_ts, s.last_outcome, s.last_message, s.last_latency_ms),
        )

    @staticmethod
    def _save_incident(tx: _Tx, profile: str, location: str, inc: Incident) -> None:
        values = (inc.started_at, inc.detected_at, inc.resolved_at, json.dumps(inc.checks), inc.message,
                  inc.last_alert_at, inc.reminders)
        if inc.id is None:
            inc.id = tx.execute(
                "INSERT INTO incidents (started_at, detected_at, resolved_at, checks_json, message, last_alert_at, "
                "reminders, profile, location) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (*values, profile, location),
            ).lastrowid
            inc.profile, inc.location = profile, location
        else:
            tx.execute("UPDATE incidents SET started_at=?, detected_at=?, resolved_at=?, checks_json=?, message=?, "
                       "last_alert_at=?, reminders=? WHERE id=?", (*values, inc.id))

    # -- alert outbox --------------------------------------------------------------------------------------------

    def _enqueue_all(self, tx: _Tx, profile: str, location: str, incident: Incident | None, alerts: Outbox) -> None:
        rows = alerts(incident) if callable(alerts) else alerts
        for event, channel, payload in rows:
            self._enqueue(tx, profile, location, incident.id if incident else None, event, channel, payload)

    @staticmethod
    def _enqueue(tx: _Tx, profile: str, location: str, incident_id: int | None, event: str, channel: str,
                 payload: dict[str, Any]) -> None:
        now = time.time()
        tx.execute(
            "INSERT INTO alerts (incident_id, profile, location, event, channel, payload_json, created_at, status, "
            "attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?)",
            (incident_id, profile, location, event, channel, json.dumps(payload), now, now),
        )

    def next_alert(self, profile: str, location: str, channel: str) -> AlertRow | None:
        """The oldest pending alert of a channel (alerts go out in order, one channel at a time)."""
        rows = self.query("SELECT * FROM alerts WHERE profile=? AND location=? AND channel=? AND status='pending' "
                          "ORDER BY id LIMIT 1", (profile, location, channel))
        return _alert(rows[0]) if rows else None

    def alerts(self, profile: str | None = None, location: str | None = None) -> list[AlertRow]:
        """Every alert row, oldest first."""
        sql, params = _where("SELECT * FROM alerts", profile=profile, location=location)
        return [_alert(r) for r in self.query(sql + " ORDER BY id", params)]

    def alert_done(self, alert_id: int, status: str, attempts: int, error: str | None = None) -> None:
        """Mark an alert sent, failed (retries exhausted) or expired."""
        with self.transaction() as tx:
            tx.execute("UPDATE alerts SET status=?, attempts=?, last_error=?, sent_at=? WHERE id=?",
                       (status, attempts, error, time.time() if status == "sent" else None, alert_id))

    def expire_orphans(self, profile: str, location: str, channels: Sequence[str]) -> int:
        """Expire pending alerts of channels the profile no longer has (nobody would ever deliver them)."""
        marks = ",".join("?" * len(channels)) or "''"
        with self.transaction() as tx:
            return int(tx.execute(
                f"UPDATE alerts SET status='expired', last_error='channel removed from the profile' WHERE profile=? "
                f"AND location=? AND status='pending' AND channel NOT IN ({marks})",
                (profile, location, *channels)).rowcount)

    def alert_retry(self, alert_id: int, attempts: int, next_attempt_at: float, error: str) -> None:
        """Record a failed delivery attempt and when to try again."""
        with self.transaction() as tx:
            tx.execute("UPDATE alerts SET attempts=?, next_attempt_at=?, last_error=? WHERE id=?",
                       (attempts, next_attempt_at, error, alert_id))

    # -- gate run history (baseline comparison) ------------------------------------------------------------------

    def add_run(self, profile: str, target: str, release: str | None, verdict: str, started_at: str,
                reports_dir: str | None, verdict_json: str,
                samples: Mapping[str, bytes | str] | None = None, encoding: str = "") -> int:
        """Store one gate run (and optionally its encoded samples per metric) atomically; returns its id."""
        with self.transaction() as tx:
            run_id = int(tx.execute(
                "INSERT INTO runs (profile, target, release, verdict, started_at, reports_dir, verdict_json) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (profile, target, release, verdict, started_at, reports_dir,
                                                 verdict_json)).lastrowid or 0)
            for name, data in (samples or {}).items():
                blob = data.encode() if isinstance(data, str) else data
                tx.execute("INSERT INTO run_samples (run_id, name, encoding, samples) VALUES (?, ?, ?, ?)",
                           (run_id, name, encoding, blob))
        return run_id

    def runs(self, profile: str, verdict: str | None = None, release: str | None = None,
             limit: int = 20) -> list[sqlite3.Row]:
        """The newest runs of a profile first, optionally only those with a verdict or release."""
        sql, params = _where("SELECT * FROM runs", profile=profile, verdict=verdict, release=release)
        return self.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])

    def run_samples(self, run_id: int) -> dict[str, tuple[str, bytes]]:
        """metric/request name -> (encoding, encoded samples) of one run."""
        rows = self.query("SELECT name, encoding, samples FROM run_samples WHERE run_id=? ORDER BY name", (run_id,))
        return {r["name"]: (r["encoding"], bytes(r["samples"])) for r in rows}


class _Tx:
    """The connection inside one transaction (executescript would commit, so statements run one by one)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> sqlite3.Cursor:
        """Run one statement in the transaction."""
        return self._conn.execute(sql, params)

    def executescript_in_tx(self, script: str) -> None:
        """Run semicolon-separated DDL statements inside the open transaction."""
        for statement in script.split(";"):
            if statement.strip():
                self._conn.execute(statement)


def _where(sql: str, **filters: Any) -> tuple[str, list[Any]]:
    parts = [(k, v) for k, v in filters.items() if v is not None]
    if not parts:
        return sql, []
    return sql + " WHERE " + " AND ".join(f"{k}=?" for k, _ in parts), [v for _, v in parts]


def _result(r: sqlite3.Row) -> ProbeResult:
    return ProbeResult(check_id=r["check_id"], ts=r["ts"], duration_ms=r["duration_ms"], status=r["status"],
                       outcome=r["outcome"], message=r["message"], kind=r["kind"], attempts=r["attempts"],
                       latency_ms=r["latency_ms"], stage=r["stage"])


def _state(r: sqlite3.Row) -> CheckState:
    return CheckState(check_id=r["check_id"], stage=r["stage"], consecutive_failures=r["consecutive_failures"],
                      consecutive_successes=r["consecutive_successes"], down=bool(r["down"]),
                      failing_since=r["failing_since"], recovering_since=r["recovering_since"], last_ts=r["last_ts"],
                      last_outcome=r["last_outcome"], last_message=r["last_message"],
                      last_latency_ms=r["last_latency_ms"])


def _incident(r: sqlite3.Row) -> Incident:
    return Incident(id=r["id"], started_at=r["started_at"], detected_at=r["detected_at"], resolved_at=r["resolved_at"],
                    checks=list(json.loads(r["checks_json"])), message=r["message"], last_alert_at=r["last_alert_at"],
                    reminders=r["reminders"], profile=r["profile"], location=r["location"])


def _alert(r: sqlite3.Row) -> AlertRow:
    return AlertRow(id=r["id"], incident_id=r["incident_id"], event=r["event"], channel=r["channel"],
                    payload=json.loads(r["payload_json"]), created_at=r["created_at"], status=r["status"],
                    attempts=r["attempts"], next_attempt_at=r["next_attempt_at"], last_error=r["last_error"])
