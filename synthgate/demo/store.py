"""The demo target's state: campaigns, per-session generation counts and login tokens, in SQLite."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synthgate.demo.contract import TOKEN_TTL_S

SEED_CAMPAIGN = {  # the runbook's uptime monitor watches /api/campaign/test
    "user_email": "operator@synthgate.dev",
    "user_name": "Uptime Monitor",
    "target_name": "Ada Lovelace",
    "target_company": "Analytical Engines Ltd",
    "target_reason": "The runbook's uptime monitor reads this campaign.",
    "user_background": "Synthetic monitoring.",
}


def utc_iso(moment: datetime) -> str:
    """`moment` as ISO 8601 with milliseconds and a `Z`."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _token_hash(token: str) -> str:
    # Only hashes are stored, so the database never holds a usable token.
    return hashlib.sha256(token.encode()).hexdigest()


class Store:
    """SQLite storage: campaigns, per-session generation counts, login tokens."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection used from the event loop thread only; every statement is a few microseconds.
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS campaigns (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, data TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, generations_used INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS tokens (token_hash TEXT PRIMARY KEY, email TEXT NOT NULL,
                                               expires_at REAL NOT NULL);
            """
        )
        self.db.execute(
            "INSERT OR IGNORE INTO campaigns VALUES ('test', ?, ?)",
            (utc_iso(datetime(2025, 1, 1, tzinfo=UTC)), json.dumps(SEED_CAMPAIGN)),
        )

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def add_campaign(self, fields: dict[str, str]) -> str:
        """Store a campaign and return its new id."""
        campaign_id = "camp_" + secrets.token_hex(8)
        self.db.execute(
            "INSERT INTO campaigns VALUES (?, ?, ?)",
            (campaign_id, utc_iso(datetime.now(UTC)), json.dumps(fields)),
        )
        return campaign_id

    def campaign(self, campaign_id: str) -> dict[str, Any] | None:
        """One campaign with its id, or None."""
        row = self.db.execute("SELECT created_at, data FROM campaigns WHERE id = ?", (campaign_id,)).fetchone()
        if row is None:
            return None
        return {**json.loads(row[1]), "id": campaign_id, "created_at": row[0]}

    def generations_used(self, session_id: str) -> int:
        """How many generations this session has used."""
        row = self.db.execute("SELECT generations_used FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return int(row[0]) if row else 0

    def count_generation(self, session_id: str) -> None:
        """Record one more generation for this session."""
        self.db.execute(
            "INSERT INTO sessions VALUES (?, 1) ON CONFLICT(id) DO UPDATE SET generations_used = generations_used + 1",
            (session_id,),
        )

    def issue_token(self, email: str) -> str:
        """A new bearer token for `email`."""
        token = "sgd_" + secrets.token_urlsafe(24)
        now = time.time()
        self.db.execute("DELETE FROM tokens WHERE expires_at < ?", (now,))
        self.db.execute("INSERT INTO tokens VALUES (?, ?, ?)", (_token_hash(token), email, now + TOKEN_TTL_S))
        return token

    def token_valid(self, token: str) -> bool:
        """Whether `token` was issued and has not expired."""
        row = self.db.execute("SELECT expires_at FROM tokens WHERE token_hash = ?", (_token_hash(token),)).fetchone()
        return row is not None and row[0] > time.time()
