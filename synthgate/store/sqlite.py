"""The SQLite backend (the default, one machine): one file in WAL mode.

`synchronous=NORMAL` in WAL mode survives any crash of the process (`kill -9` loses nothing committed); only an OS
crash or power loss may drop the last commits (FULL would fsync every result and cost throughput for a risk probes
can live with). Its locks are file locks beside the database: they cover the processes of one machine only.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from synthgate import filelock
from synthgate.store import schema
from synthgate.store.base import BaseStore, Row, StoreError

BUSY_TIMEOUT_S = 10.0


class SqliteStore(BaseStore):
    """The SQLite store (WAL). Thread-safe: one connection, one lock, one short transaction per write."""

    dialect = "sqlite"

    def __init__(self, path: Path | str, timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path).expanduser()
        self.label = str(self.path)
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
        with self.transaction() as tx:
            version = _version(tx)
            if version > schema.LATEST:
                raise sqlite3.DatabaseError(f"written by a newer synthgate (schema {version}, this one knows "
                                            f"{schema.LATEST})")
            tx.execute(schema.VERSION_TABLE.format(**schema.TYPES["sqlite"]))
            for m in schema.MIGRATIONS:
                if m.version <= version:
                    continue
                for statement in schema.statements(m.ddl, "sqlite"):
                    tx.execute(statement)
                tx.execute("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                           (m.version, m.description, time.time()))
            tx.execute(f"PRAGMA user_version={schema.LATEST}")

    def close(self) -> None:
        """Close the connection (everything is committed already)."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[_Tx]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT): writers of every process take turns."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Tx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Row]:
        """Rows of one read query."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _lock_file(self, name: str) -> Path:
        return self.path.with_name(f"{self.path.name}.{re.sub(r'[^A-Za-z0-9_.:@-]', '_', name)}.lock")

    @contextmanager
    def exclusive(self, name: str, wait_s: float) -> Iterator[bool]:
        """A file lock beside the database (this machine only); the kernel releases it on kill -9."""
        with open(self._lock_file(name), "a+") as handle:
            if not filelock.acquire(handle, wait_s):
                yield False
                return
            try:
                handle.seek(0)
                handle.truncate()
                handle.write(str(os.getpid()))
                handle.flush()
                yield True
            finally:
                filelock.release(handle)

    def lock_holder(self, name: str) -> str:
        """The pid written into the lock file by its holder."""
        try:
            return f"pid {self._lock_file(name).read_text().strip() or '?'} (lock {self._lock_file(name)})"
        except OSError:
            return "?"


def _version(tx: _Tx) -> int:
    """The schema version: the migrations recorded, else PRAGMA user_version (databases from before the table)."""
    user = int(tx.execute("PRAGMA user_version").fetchone()[0])
    has_table = tx.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone()
    if not has_table:
        return user
    recorded = tx.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    return max(user, int(recorded or 0))


class _Tx:
    """The connection inside one transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> sqlite3.Cursor:
        """Run one statement in the transaction."""
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each row (bulk writes)."""
        self._conn.executemany(sql, rows)
