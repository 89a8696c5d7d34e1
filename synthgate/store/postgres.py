"""The PostgreSQL backend (several machines): psycopg 3, one connection per store, advisory locks.

Every runner and probe location that points at one server shares one history, one rollback lock and one incident
per outage. Committed transactions are durable on the server, so a `kill -9` of a client loses nothing committed.
Locks are session advisory locks on a dedicated connection: the server releases them when that connection ends,
whether the holder finished, crashed or lost its machine.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.rows import RowMaker

from synthgate.store import schema
from synthgate.store.base import BaseStore, StoreError

CONNECT_TIMEOUT_S = 10
MIGRATION_LOCK = 0x53594E544847  # "SYNTHG": migrations of concurrent starters take turns
_PLACEHOLDER = re.compile(r"\?")


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key for a name (stable across machines and Python versions)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _sql(text: str) -> str:
    """`?` placeholders to psycopg's `%s` (a literal `%` doubled first)."""
    return _PLACEHOLDER.sub("%s", text.replace("%", "%%"))


class Row:
    """One result row, by position or by column name (like sqlite3.Row)."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: Sequence[Any]) -> None:
        self._index = index
        self._values = values

    def __getitem__(self, key: int | str) -> Any:
        return self._values[key] if isinstance(key, int) else self._values[self._index[key]]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def keys(self) -> list[str]:
        """Column names."""
        return list(self._index)


def _rows(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    index = {c.name: i for i, c in enumerate(cursor.description or [])}
    return lambda values: Row(index, values)


class _Tx:
    """The connection inside one transaction (statements with `?` placeholders)."""

    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> psycopg.Cursor[Row]:
        """Run one statement in the transaction."""
        return self._conn.execute(_sql(sql), tuple(params))  # type: ignore[arg-type]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each row (bulk writes, pipelined by psycopg)."""
        with self._conn.cursor() as cur:
            cur.executemany(_sql(sql), [tuple(r) for r in rows])


class PostgresStore(BaseStore):
    """The PostgreSQL store. Thread-safe: one connection, one lock, one short transaction per write."""

    dialect = "postgres"

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.path = url  # what another thread or process opens to reach the same data
        self.url = url
        self.label = safe_url(url)
        self._timeout_s = timeout_s
        self._lock = threading.RLock()
        self._conn = self._connect()
        try:
            self._migrate()
        except psycopg.Error as exc:
            self._conn.close()
            raise StoreError(f"{self.label}: cannot set up the synthgate schema: {exc}") from None

    def _connect(self) -> psycopg.Connection[Row]:
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                   row_factory=_rows, application_name="synthgate")
        except psycopg.Error as exc:
            raise StoreError(f"{self.label}: cannot connect to PostgreSQL: {str(exc).strip()}") from None

    def _migrate(self) -> None:
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            self._conn.execute(schema.VERSION_TABLE.format(**schema.TYPES["postgres"]))
            version = int(self._conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])
            if version > schema.LATEST:
                raise StoreError(f"{self.label}: written by a newer synthgate (schema {version}, this one knows "
                                 f"{schema.LATEST})")
            for m in schema.MIGRATIONS:
                if m.version <= version:
                    continue
                for statement in schema.statements(m.ddl, "postgres"):
                    self._conn.execute(statement)
                self._conn.execute("INSERT INTO schema_version (version, description, applied_at) VALUES "
                                   "(%s, %s, extract(epoch from now()))", (m.version, m.description))

    def _live(self) -> psycopg.Connection[Row]:
        """The connection, reconnected once if the server dropped it (a restart, a failover)."""
        if self._conn.closed or self._conn.broken:
            self._conn = self._connect()
        return self._conn

    def close(self) -> None:
        """Close the connection (everything is committed already)."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[_Tx]:
        """One write transaction; a failure of the server becomes a StoreError."""
        with self._lock:
            try:
                conn = self._live()
                with conn.transaction():
                    yield _Tx(conn)
            except psycopg.Error as exc:
                raise StoreError(f"{self.label}: {exc.__class__.__name__}: {str(exc).strip()}") from None

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Row]:
        """Rows of one read query."""
        with self._lock:
            try:
                return self._live().execute(_sql(sql), tuple(params)).fetchall()  # type: ignore[arg-type]
            except psycopg.Error as exc:
                raise StoreError(f"{self.label}: {exc.__class__.__name__}: {str(exc).strip()}") from None

    def now(self) -> float:
        """The server's clock: every machine that shares the database compares times on it."""
        return float(self.query("SELECT extract(epoch from clock_timestamp())")[0][0])

    def _serialize_profile(self, tx: Any, profile: str) -> None:
        # READ COMMITTED lets two writers read the same "no open incident"; this lock makes them take turns
        tx.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(f"incident:{profile}"),))

    def _bucket(self, expr: str, last: str) -> str:
        return f"least(CAST(floor({expr}) AS INTEGER), {last})"

    @contextmanager
    def exclusive(self, name: str, wait_s: float) -> Iterator[bool]:
        """A session advisory lock on a dedicated connection, held across every machine using this server."""
        key = lock_key(name)
        conn = self._connect()
        try:
            deadline = time.monotonic() + wait_s
            while not conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.2)
            conn.execute("SELECT set_config('application_name', %s, false)", (f"synthgate {name}"[:63],))
            yield True
        except psycopg.Error as exc:
            raise StoreError(f"{self.label}: lock {name}: {str(exc).strip()}") from None
        finally:
            conn.close()  # ends the session: the server releases its advisory locks

    def lock_holder(self, name: str) -> str:
        """The client that holds an advisory lock, from pg_locks."""
        key = lock_key(name)
        rows = self.query(
            "SELECT a.pid, a.client_addr, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON "
            "a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND "
            "((l.classid::bigint << 32) | l.objid::bigint) = ?", (key,))
        if not rows:
            return "?"
        r = rows[0]
        return f"server backend {r['pid']} ({r['application_name']} from {r['client_addr'] or 'local socket'})"
