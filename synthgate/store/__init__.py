"""The store: every piece of synthgate's state behind one interface, on SQLite (default) or PostgreSQL.

`Store(target)` opens a SQLite file for a path and PostgreSQL for a `postgresql://` URL; both offer the same
methods (see `synthgate.store.base.BaseStore`). SQLite serves one machine; PostgreSQL is shared by every runner
and probe location that uses the same server.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from synthgate.profile import ProfileError
from synthgate.store.base import BaseStore, Decide, Row, StoreError
from synthgate.store.models import AlertRow, CheckState, Incident, Outbox, OutboxRow, ProbeResult
from synthgate.store.schema import LATEST as SCHEMA_VERSION
from synthgate.store.sqlite import BUSY_TIMEOUT_S, SqliteStore

__all__ = ["BUSY_TIMEOUT_S", "SCHEMA_VERSION", "AlertRow", "BaseStore", "CheckState", "Decide", "Incident", "Outbox",
           "OutboxRow", "ProbeResult", "Row", "Store", "StoreError", "default_db_path", "describe", "is_postgres",
           "open_history", "resolve_db"]

PG_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(target: object) -> bool:
    """Whether a --db value names a PostgreSQL server."""
    return isinstance(target, str) and target.startswith(PG_SCHEMES)


def default_db_path() -> Path:
    """`$SYNTHGATE_HOME/synthgate.db`, else `~/.local/share/synthgate/synthgate.db`."""
    home = os.environ.get("SYNTHGATE_HOME")
    if home:
        return Path(home).expanduser() / "synthgate.db"
    return Path.home() / ".local" / "share" / "synthgate" / "synthgate.db"


def resolve_db(value: str | Path | None) -> str | Path:
    """What to open: --db, else $SYNTHGATE_DB, else the default SQLite file (a URL stays a string)."""
    chosen: str | Path | None = value if value not in (None, "") else os.environ.get("SYNTHGATE_DB") or None
    if chosen is None:
        return default_db_path()
    if is_postgres(str(chosen)):
        return str(chosen)
    return Path(chosen).expanduser()


def describe(target: str | Path) -> str:
    """A --db value safe to print (a URL without its password)."""
    if is_postgres(str(target)):
        from synthgate.store.postgres import safe_url  # deferred: psycopg loads only for a postgresql:// URL

        return safe_url(str(target))
    return str(target)


class Store(SqliteStore):
    """Open the store: `Store(path)` is SQLite, `Store("postgresql://...")` is PostgreSQL (same interface)."""

    def __new__(cls, target: str | Path, *args: Any, **kwargs: Any) -> Any:
        if cls is Store and is_postgres(str(target)):
            from synthgate.store.postgres import PostgresStore  # deferred: psycopg only when asked for

            return PostgresStore(str(target), *args, **kwargs)
        return super().__new__(cls)


def open_history(value: str | Path | None) -> str | Path:
    """Resolve a gate's --db, check that the database can be opened (migrating it), and return it.

    An explicit value is exported as SYNTHGATE_DB, so the rollback lock and every child process of this run use
    the same database. A database that cannot be used is a ProfileError (exit 2), raised before any check runs.
    """
    target = resolve_db(value)
    if value not in (None, ""):
        os.environ["SYNTHGATE_DB"] = str(target)
    try:
        Store(target).close()
    except StoreError as exc:
        raise ProfileError(f"--db: {exc}") from None
    return target
