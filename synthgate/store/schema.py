"""Versioned schema migrations, one ordered list for both backends.

Each migration is DDL written once with three type placeholders that each backend fills in: `{serial}` (an
auto-increment primary key), `{real}` (a 64-bit float: PostgreSQL's REAL is only 32 bits, too coarse for Unix
times) and `{blob}`. The `schema_version` table records which migrations ran; a database written by a newer
synthgate is refused rather than guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    """One schema step: its version, what it does, and its statements (semicolon-separated DDL)."""

    version: int
    description: str
    ddl: str


TYPES = {
    "sqlite": {"serial": "INTEGER PRIMARY KEY AUTOINCREMENT", "real": "REAL", "blob": "BLOB",
               "compact": "WITHOUT ROWID"},
    "postgres": {"serial": "BIGSERIAL PRIMARY KEY", "real": "DOUBLE PRECISION", "blob": "BYTEA", "compact": ""},
}

VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at  {real} NOT NULL
)
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "probe results, check state, incidents, alert outbox, run history", """
CREATE TABLE IF NOT EXISTS probe_targets (
    profile     TEXT NOT NULL,
    location    TEXT NOT NULL,
    base_url    TEXT NOT NULL,
    slo         {real} NOT NULL,
    config_json TEXT NOT NULL,
    started_at  {real} NOT NULL,
    pid         INTEGER,
    PRIMARY KEY (profile, location)
);
CREATE TABLE IF NOT EXISTS probe_results (
    id          {serial},
    profile     TEXT NOT NULL,
    location    TEXT NOT NULL,
    check_id    TEXT NOT NULL,
    stage       TEXT NOT NULL,
    ts          {real} NOT NULL,
    duration_ms {real} NOT NULL,
    latency_ms  {real},
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
    failing_since         {real},
    recovering_since      {real},
    last_ts               {real},
    last_outcome          TEXT,
    last_message          TEXT NOT NULL DEFAULT '',
    last_latency_ms       {real},
    PRIMARY KEY (profile, location, check_id)
);
CREATE TABLE IF NOT EXISTS incidents (
    id            {serial},
    profile       TEXT NOT NULL,
    location      TEXT NOT NULL,
    started_at    {real} NOT NULL,
    detected_at   {real} NOT NULL,
    resolved_at   {real},
    checks_json   TEXT NOT NULL,
    message       TEXT NOT NULL,
    last_alert_at {real} NOT NULL,
    reminders     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS incidents_by_target ON incidents (profile, location, resolved_at);
CREATE TABLE IF NOT EXISTS alerts (
    id              {serial},
    incident_id     INTEGER REFERENCES incidents (id),
    profile         TEXT NOT NULL,
    location        TEXT NOT NULL,
    event           TEXT NOT NULL,
    channel         TEXT NOT NULL,
    payload_json    TEXT NOT NULL,
    created_at      {real} NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'expired')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {real} NOT NULL,
    last_error      TEXT,
    sent_at         {real}
);
CREATE INDEX IF NOT EXISTS alerts_pending ON alerts (profile, location, channel, status, id);
CREATE TABLE IF NOT EXISTS runs (
    id           {serial},
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
    samples  {blob} NOT NULL,
    PRIMARY KEY (run_id, name)
)
"""),
    Migration(2, "incidents shared by every location of a profile; rollback records", """
UPDATE incidents SET resolved_at = detected_at WHERE resolved_at IS NULL AND id NOT IN
    (SELECT max(id) FROM incidents WHERE resolved_at IS NULL GROUP BY profile);
ALTER TABLE incidents ADD COLUMN locations_json TEXT NOT NULL DEFAULT '[]';
CREATE UNIQUE INDEX incidents_one_open ON incidents (profile) WHERE resolved_at IS NULL;
CREATE TABLE rollbacks (
    id          {serial},
    deployment  TEXT NOT NULL,
    profile     TEXT NOT NULL,
    base_url    TEXT NOT NULL,
    started_at  {real} NOT NULL,
    finished_at {real},
    exit_code   INTEGER,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL
);
CREATE INDEX rollbacks_by_deployment ON rollbacks (deployment, finished_at)
"""),
    Migration(3, "hourly and daily probe rollups, kept long after the raw results are pruned", """
CREATE TABLE probe_rollups (
    profile     TEXT NOT NULL,
    location    TEXT NOT NULL,
    span        INTEGER NOT NULL,
    start       BIGINT NOT NULL,
    check_id    TEXT NOT NULL,
    n           INTEGER NOT NULL,
    failures    INTEGER NOT NULL,
    n_up        INTEGER NOT NULL,
    n_down      INTEGER NOT NULL,
    n_unknown   INTEGER NOT NULL,
    up_min      INTEGER NOT NULL,
    down_min    INTEGER NOT NULL,
    unknown_min INTEGER NOT NULL,
    lat_n       INTEGER NOT NULL,
    lat_sum     {real} NOT NULL,
    hist        TEXT NOT NULL,
    PRIMARY KEY (profile, location, span, start, check_id)
) {compact};
CREATE TABLE probe_rollup_state (
    profile   TEXT NOT NULL,
    location  TEXT NOT NULL,
    rolled_to {real},
    raw_from  {real} NOT NULL DEFAULT 0,
    PRIMARY KEY (profile, location)
);
CREATE INDEX probe_results_by_target_time ON probe_results (profile, location, ts)
"""),
)

LATEST = MIGRATIONS[-1].version


def statements(ddl: str, dialect: str) -> list[str]:
    """The migration's statements with the dialect's types filled in."""
    text = ddl.format(**TYPES[dialect])
    return [s.strip() for s in text.split(";") if s.strip()]
