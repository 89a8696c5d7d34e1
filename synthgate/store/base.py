"""The store's one interface: every piece of state, written in SQL both backends understand.

Backends (SQLite, PostgreSQL) supply the connection, transactions, a few dialect fragments and the locks; every
query lives here once. Statements use `?` placeholders (the PostgreSQL backend rewrites them). Every write is one
short transaction committed before anything is printed or alerted, so a `kill -9` loses nothing committed.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from synthgate.store import rollups
from synthgate.store.models import AlertRow, CheckState, Incident, Outbox, ProbeResult

Row = Any  # sqlite3.Row or the PostgreSQL backend's Row: both index by position and by column name


class StoreError(Exception):
    """The database cannot be opened or used; the message is meant for the user as is."""


class Tx(Protocol):
    """The connection inside one transaction."""

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        """Run one statement in the transaction; returns a cursor (fetchone, fetchall, rowcount)."""
        ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each row."""
        ...


# decides the shared incident inside the write transaction: (every location's states, open incident) ->
# (the incident to write or None, event kinds)
Decide = Callable[[dict[str, dict[str, CheckState]], Incident | None], tuple[Incident | None, list[str]]]


class BaseStore(ABC):
    """What every backend offers. Thread-safe; one short transaction per write."""

    dialect = "sqlite"
    label = ""  # where the data lives, safe to print (no password)

    # -- backend hooks -------------------------------------------------------------------------------------------

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Tx]:
        """One write transaction, serialised against every other writer; rolled back if the block raises."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Row]:
        """Rows of one read query."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection (everything is committed already)."""

    @abstractmethod
    def exclusive(self, name: str, wait_s: float) -> AbstractContextManager[bool]:
        """Hold a named lock of this database (True), or False when another holder kept it for wait_s."""

    def lock_holder(self, name: str) -> str:
        """Who holds a named lock, as far as the backend knows (for error messages)."""
        return "?"

    def now(self) -> float:
        """The database's clock (Unix seconds): one clock for every machine that shares it."""
        return time.time()

    def _serialize_profile(self, tx: Tx, profile: str) -> None:
        """Make concurrent writers of one profile's shared incident take turns (SQLite's writers always do)."""
        return None

    def _bucket(self, expr: str, last: str) -> str:
        return f"min(CAST({expr} AS INTEGER), {last})"

    def __enter__(self) -> BaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    def probe_targets(self, profile: str | None = None, location: str | None = None) -> list[Row]:
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
            sql = f"SELECT * FROM ({sql} ORDER BY id DESC LIMIT ?) AS newest"
            params.append(limit)
        rows = self.query(sql + " ORDER BY ts, id", params)
        return [_result(r) for r in rows]

    def result_count(self, profile: str | None = None, location: str | None = None) -> int:
        """How many results are stored."""
        sql, params = _where("SELECT count(*) FROM probe_results", profile=profile, location=location)
        return int(self.query(sql, params)[0][0])

    def first_result_ts(self, profile: str, location: str, since: float) -> float | None:
        """Time of the oldest result since a time (None without any); an hour's start where only rollups remain."""
        split = self._split(profile, location, since)
        if split is not None and split.raw[0][1] is None:  # the window starts where only rollups remain
            rows = self.query("SELECT min(start) FROM probe_rollups WHERE profile=? AND location=? AND span=? "
                              "AND start>=? AND start<?",
                              (profile, location, rollups.HOUR, split.first_hour, split.rolled_to))
            if rows and rows[0][0] is not None:
                return max(since, float(rows[0][0]))
            since = split.rolled_to
        rows = self.query("SELECT min(ts) FROM probe_results WHERE profile=? AND location=? AND ts>=?",
                          (profile, location, since))
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    def outcome_counts(self, profile: str, location: str, since: float) -> dict[str, dict[str, int]]:
        """check id -> {"up": n, "down": n, "unknown": n} since a time (rollups where raw results are pruned)."""
        out: dict[str, dict[str, int]] = {}
        split = self._split(profile, location, since)
        ranges: list[tuple[str, list[float]]] = [("ts>=?", [since])]
        if split is not None:
            ranges = split.raw_sql()
            for span, lo, hi in _segments(split.first_hour, split.rolled_to):
                for r in self.query(
                        "SELECT check_id, sum(n_up) AS up, sum(n_down) AS down, sum(n_unknown) AS unknown "
                        "FROM probe_rollups WHERE profile=? AND location=? AND span=? AND start>=? AND start<? "
                        "GROUP BY check_id", (profile, location, span, lo, hi)):
                    acc = out.setdefault(r["check_id"], {"up": 0, "down": 0, "unknown": 0})
                    for k in ("up", "down", "unknown"):
                        acc[k] += int(r[k] or 0)
        rows = [r for where, params in ranges for r in self.query(
            f"SELECT check_id, outcome, count(*) AS n FROM probe_results WHERE profile=? AND location=? AND {where} "
            "GROUP BY check_id, outcome", (profile, location, *params))]
        for r in rows:
            acc = out.setdefault(r["check_id"], {"up": 0, "down": 0, "unknown": 0})
            acc[r["outcome"]] += int(r["n"])
        return out

    def latency_percentiles(self, profile: str, location: str, since: float,
                            percentiles: Sequence[float] = (50.0, 95.0)) -> dict[str, dict[str, float]]:
        """check id -> {"n": samples, "p50": ms, ...} (nearest rank) over results with an answer since a time.

        On raw results the database sorts and picks the ranks, so memory stays flat however long the history
        is; a window reaching past the raw results reads the rollups' histograms (within ~9 %).
        """
        split = self._split(profile, location, since, exact=True)
        if split is not None:
            return self._rollup_percentiles(profile, location, split, percentiles)
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

    def _rollup_percentiles(self, profile: str, location: str, split: Split,
                            percentiles: Sequence[float]) -> dict[str, dict[str, float]]:
        hists: dict[str, dict[int, int]] = {}
        for span, lo, hi in _segments(split.first_hour, split.rolled_to):
            for r in self.query("SELECT check_id, hist FROM probe_rollups WHERE profile=? AND location=? AND span=? "
                                "AND start>=? AND start<? AND lat_n>0", (profile, location, span, lo, hi)):
                rollups.decode_hist(r["hist"], hists.setdefault(r["check_id"], {}))
        for r in self.query("SELECT check_id, latency_ms FROM probe_results WHERE profile=? AND location=? AND ts>=? "
                            "AND outcome!='unknown' AND latency_ms IS NOT NULL", (profile, location, split.rolled_to)):
            hist = hists.setdefault(r["check_id"], {})
            b = rollups.bucket_of(float(r["latency_ms"]))
            hist[b] = hist.get(b, 0) + 1
        out: dict[str, dict[str, float]] = {}
        for cid, hist in hists.items():
            n = sum(hist.values())
            if not n:
                continue
            stats: dict[str, float] = {"n": float(n)}
            for q in percentiles:
                stats[f"p{q:g}"] = rollups.percentile_ms(hist, q) or 0.0
            out[cid] = stats
        return out

    def buckets(self, profile: str, location: str, start: float, width_s: float,
                count: int) -> dict[str, list[tuple[int, int, float | None]]]:
        """check id -> `count` time buckets from `start`: (up, down, mean latency ms), for charts."""
        acc: dict[str, list[list[float]]] = {}  # check -> per bucket [up, down, latency sum, latency n]

        def add(cid: str, b: int, up: Any, down: Any, lat_sum: Any, lat_n: Any) -> None:
            series = acc.setdefault(cid, [[0, 0, 0.0, 0] for _ in range(count)])
            cell = series[max(0, min(count - 1, b))]
            cell[0] += int(up or 0)
            cell[1] += int(down or 0)
            cell[2] += float(lat_sum or 0.0)
            cell[3] += int(lat_n or 0)

        ranges: list[tuple[str, list[float]]] = [("ts>=?", [start])]
        split = self._split(profile, location, start)
        if split is not None:
            ranges = split.raw_sql()
            bucket = self._bucket("(start - ?) / ?", "?")
            for r in self.query(
                    "SELECT check_id, b, sum(n_up) AS up, sum(n_down) AS down, sum(lat_sum) AS ls, sum(lat_n) AS ln "
                    f"FROM (SELECT check_id, n_up, n_down, lat_sum, lat_n, {bucket} AS b FROM probe_rollups "
                    "WHERE profile=? AND location=? AND span=? AND start>=? AND start<?) AS t GROUP BY check_id, b",
                    (start, width_s, count - 1, profile, location, rollups.HOUR, split.first_hour, split.rolled_to)):
                add(r["check_id"], int(r["b"]), r["up"], r["down"], r["ls"], r["ln"])
        bucket = self._bucket("(ts - ?) / ?", "?")
        rows = [r for where, params in ranges for r in self.query(
            "SELECT check_id, b, sum(CASE WHEN outcome='up' THEN 1 ELSE 0 END) AS up, "
            "sum(CASE WHEN outcome='down' THEN 1 ELSE 0 END) AS down, "
            "sum(CASE WHEN outcome!='unknown' THEN latency_ms END) AS ls, "
            "count(CASE WHEN outcome!='unknown' THEN latency_ms END) AS ln "
            f"FROM (SELECT check_id, outcome, latency_ms, {bucket} AS b FROM probe_results "
            f"WHERE profile=? AND location=? AND {where}) AS t GROUP BY check_id, b",
            (start, width_s, count - 1, profile, location, *params))]
        for r in rows:
            add(r["check_id"], int(r["b"]), r["up"], r["down"], r["ls"], r["ln"])
        return {cid: [(int(c[0]), int(c[1]), (c[2] / c[3]) if c[3] else None) for c in series]
                for cid, series in acc.items()}

    def prune(self, older_than: float, rollups_older_than: float | None = None) -> int:
        """Delete results (and resolved incidents and finished alerts) older than a time; returns results deleted.

        Every hour about to lose its raw results is rolled up first, so the history stays readable; rollups
        themselves go after `rollups_older_than` (default: 400 days).
        """
        for r in self.query("SELECT DISTINCT profile, location FROM probe_results WHERE ts<?", (older_than,)):
            self.roll_up(r["profile"], r["location"])
        rollup_cut = self.now() - rollups.RETENTION_S if rollups_older_than is None else rollups_older_than
        with self.transaction() as tx:
            n = tx.execute("DELETE FROM probe_results WHERE ts<?", (older_than,)).rowcount
            tx.execute("UPDATE probe_rollup_state SET raw_from=? WHERE raw_from<?", (older_than, older_than))
            tx.execute("DELETE FROM probe_rollups WHERE start<?", (rollup_cut,))
            tx.execute("DELETE FROM alerts WHERE created_at<? AND status!='pending'", (older_than,))
            tx.execute("DELETE FROM incidents WHERE resolved_at IS NOT NULL AND resolved_at<? AND id NOT IN "
                       "(SELECT incident_id FROM alerts WHERE incident_id IS NOT NULL)", (older_than,))
        return int(n)

    # -- probes: rollups -------------------------------------------------------------------------------------------

    def insert_results(self, profile: str, location: str, results: Sequence[ProbeResult]) -> None:
        """Store many results at once (history imports and benchmarks; the probe records one round at a time)."""
        with self.transaction() as tx:
            tx.executemany(
                "INSERT INTO probe_results (profile, location, check_id, stage, ts, duration_ms, latency_ms, status, "
                "outcome, kind, attempts, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(profile, location, r.check_id, r.stage, r.ts, r.duration_ms, r.latency_ms, r.status, r.outcome,
                  r.kind, r.attempts, r.message) for r in results])

    def rollup_state(self, profile: str, location: str) -> tuple[float | None, float]:
        """(rolled up to, raw results kept from) of a probed (profile, location)."""
        rows = self.query("SELECT rolled_to, raw_from FROM probe_rollup_state WHERE profile=? AND location=?",
                          (profile, location))
        if not rows:
            return None, 0.0
        rolled = rows[0]["rolled_to"]
        return (None if rolled is None else float(rolled)), float(rows[0]["raw_from"] or 0.0)

    def roll_up(self, profile: str, location: str, until: float | None = None) -> int:
        """Roll up every complete hour (and day) not rolled up yet; returns the hours written.

        Incremental (from where the last call stopped, the last hour again for late results) and idempotent:
        an hour is always recomputed whole from its raw results and replaces what was there, so a restart or
        two probes rolling up at once never count a result twice. Hours whose raw results were pruned are
        never touched again.
        """
        end = rollups.floor_to(self.now() if until is None else until, rollups.HOUR)
        rolled, raw_from = self.rollup_state(profile, location)
        if rolled is not None and rolled >= end:
            return 0
        if rolled is None:
            rows = self.query("SELECT min(ts) FROM probe_results WHERE profile=? AND location=? AND ts<?",
                              (profile, location, end))
            if not rows or rows[0][0] is None:
                self._set_rolled(profile, location, end)
                return 0
            begin = rollups.floor_to(float(rows[0][0]), rollups.HOUR)
        else:
            begin = int(rolled) - rollups.HOUR
        begin = max(begin, rollups.ceil_to(raw_from, rollups.HOUR)) if raw_from else begin
        written = 0
        day = rollups.floor_to(begin, rollups.DAY)
        while day < end:  # a day at a time: bounded memory
            lo, hi = max(begin, day), min(end, day + rollups.DAY)
            raw = self.query("SELECT check_id, ts, status, outcome, latency_ms FROM probe_results WHERE profile=? "
                             "AND location=? AND ts>=? AND ts<?", (profile, location, lo, hi))
            if not raw:  # no result that day: jump to the next day that has one (a gap may be years long)
                nxt = self._next_day_with_results(profile, location, hi, end)
                self.write_rollups(profile, location, (), lo, min(end, nxt), rollups.HOUR)
                whole = min(nxt, rollups.floor_to(end, rollups.DAY))
                if whole > day:  # the skipped whole days (and the weeks they complete), in one pass
                    self.roll_days(profile, location, day, whole)
                day = nxt
                continue
            hours = rollups.aggregate([tuple(r) for r in raw])
            written += self.write_rollups(profile, location, hours.values(), lo, hi, rollups.HOUR)
            if day + rollups.DAY <= end:  # a whole day: its daily rollup from its hours
                self.roll_days(profile, location, day, day + rollups.DAY)
            day += rollups.DAY
        self._set_rolled(profile, location, end)
        return written

    def _next_day_with_results(self, profile: str, location: str, after: float, end: int) -> int:
        """The start of the first day at or after `after` with a raw result before `end`; `end` when none."""
        rows = self.query("SELECT min(ts) FROM probe_results WHERE profile=? AND location=? AND ts>=? AND ts<?",
                          (profile, location, after, end))
        if not rows or rows[0][0] is None:
            return end
        return max(rollups.floor_to(float(rows[0][0]), rollups.DAY), rollups.floor_to(after, rollups.DAY))

    def write_rollups(self, profile: str, location: str, items: Iterable[rollups.Rollup], lo: int, hi: int,
                      span: int) -> int:
        """Replace the rollups of `span` starting in [lo, hi) with `items` (one transaction: never half done)."""
        rows = [(profile, location, *r.row()) for r in items]
        cols = ", ".join(("profile", "location", *rollups.ROW_COLUMNS))
        marks = ", ".join("?" * (2 + len(rollups.ROW_COLUMNS)))
        with self.transaction() as tx:
            self._serialize_profile(tx, profile)
            tx.execute("DELETE FROM probe_rollups WHERE profile=? AND location=? AND span=? AND start>=? AND start<?",
                       (profile, location, span, lo, hi))
            if rows:
                tx.executemany(f"INSERT INTO probe_rollups ({cols}) VALUES ({marks})", rows)
        return len(rows)

    def roll_days(self, profile: str, location: str, d0: int, d1: int) -> None:
        """Recompute the daily rollups of the days in [d0, d1) (day boundaries) from their hourly rollups, and
        the weekly ones of every week those days complete."""
        self._roll_level(profile, location, d0, d1, rollups.DAY)
        w0, w1 = rollups.floor_to(d0, rollups.WEEK), rollups.floor_to(d1, rollups.WEEK)
        if w1 > w0:
            self._roll_level(profile, location, w0, w1, rollups.WEEK)

    def _roll_level(self, profile: str, location: str, lo: int, hi: int, span: int) -> None:
        """Recompute the rollups of `span` in [lo, hi) from the level below it."""
        finer = rollups.SPANS[rollups.SPANS.index(span) - 1]
        parts = [self._rollup(r) for r in self.query(
            f"SELECT {', '.join(rollups.ROW_COLUMNS)} FROM probe_rollups WHERE profile=? AND location=? AND span=? "
            "AND start>=? AND start<?", (profile, location, finer, lo, hi))]
        self.write_rollups(profile, location, rollups.merge(parts, span).values(), lo, hi, span)

    @staticmethod
    def _rollup(r: Row) -> rollups.Rollup:
        return rollups.Rollup(
            check_id=r["check_id"], span=int(r["span"]), start=int(r["start"]), n=int(r["n"]),
            failures=int(r["failures"]), n_up=int(r["n_up"]), n_down=int(r["n_down"]), n_unknown=int(r["n_unknown"]),
            up_min=int(r["up_min"]), down_min=int(r["down_min"]), unknown_min=int(r["unknown_min"]),
            lat_n=int(r["lat_n"]), lat_sum=float(r["lat_sum"]), hist=rollups.decode_hist(r["hist"]))

    def _set_rolled(self, profile: str, location: str, end: float) -> None:
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO probe_rollup_state (profile, location, rolled_to, raw_from) VALUES (?, ?, ?, 0) "
                "ON CONFLICT (profile, location) DO UPDATE SET rolled_to=excluded.rolled_to "
                "WHERE probe_rollup_state.rolled_to IS NULL OR probe_rollup_state.rolled_to<excluded.rolled_to",
                (profile, location, end))

    def set_raw_from(self, profile: str, location: str, raw_from: float) -> None:
        """Record that raw results before `raw_from` are gone (or were never written: imported history)."""
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO probe_rollup_state (profile, location, rolled_to, raw_from) VALUES (?, ?, NULL, ?) "
                "ON CONFLICT (profile, location) DO UPDATE SET raw_from=excluded.raw_from",
                (profile, location, raw_from))

    def _split(self, profile: str, location: str, since: float, exact: bool = False) -> Split | None:
        """How to read the history since `since`: None for raw results alone, else a `Split`.

        Whole hours already rolled up are read from the rollups (a year is a few hundred rows per check);
        the minutes before the first whole hour and after the last rolled-up one from raw results. With
        `exact`, rollups are used only where raw results are gone (latency percentiles stay exact).
        """
        rolled, raw_from = self.rollup_state(profile, location)
        if rolled is None:
            return None
        if since >= raw_from:
            if exact:
                return None
            first_hour = rollups.ceil_to(since, rollups.HOUR)
            if first_hour >= rolled:
                return None
            return Split(first_hour, rolled, [(since, float(first_hour)), (rolled, None)])
        return Split(rollups.floor_to(since, rollups.HOUR), rolled, [(rolled, None)])


    # -- probes: state and incidents -----------------------------------------------------------------------------

    def check_states(self, profile: str, location: str) -> dict[str, CheckState]:
        """The stored state of every check of a probed target at one location."""
        rows = self.query("SELECT * FROM check_state WHERE profile=? AND location=? ORDER BY check_id",
                          (profile, location))
        return {r["check_id"]: _state(r) for r in rows}

    def all_check_states(self, profile: str) -> dict[str, dict[str, CheckState]]:
        """location -> check id -> state, for every location that probes a profile."""
        return _states_by_location(self.query("SELECT * FROM check_state WHERE profile=? ORDER BY location, "
                                              "check_id", (profile,)))

    def open_incident(self, profile: str, location: str | None = None) -> Incident | None:
        """The open incident of a profile (shared by every location), if any; `location` is accepted and unused."""
        rows = self.query("SELECT * FROM incidents WHERE profile=? AND resolved_at IS NULL ORDER BY id DESC LIMIT 1",
                          (profile,))
        return _incident(rows[0]) if rows else None

    def incidents(self, profile: str | None = None, location: str | None = None,
                  since: float | None = None) -> list[Incident]:
        """Incidents that were open at some time since `since` (all when None), oldest first.

        `location` keeps those that location saw (opened or joined).
        """
        sql, params = _where("SELECT * FROM incidents", profile=profile)
        if since is not None:
            sql += (" AND" if params else " WHERE") + " (resolved_at IS NULL OR resolved_at>=?)"
            params.append(since)
        found = [_incident(r) for r in self.query(sql + " ORDER BY started_at, id", params)]
        return [i for i in found if location is None or location == i.location or location in i.locations]

    def record(self, profile: str, location: str, result: ProbeResult, state: CheckState,
               incident: Incident | None, alerts: Outbox = ()) -> int:
        """Commit one result with the check state, incident and alerts it led to, atomically; returns its id.

        `alerts` holds (event, channel, payload) rows for the outbox, or makes them once a new incident has its id.
        """
        with self.transaction() as tx:
            rid = self._insert_result(tx, profile, location, result)
            self._save_state(tx, profile, location, state)
            if incident is not None:
                self._save_incident(tx, profile, location, incident)
            self._enqueue_all(tx, profile, location, incident, alerts)
        return rid

    def record_shared(self, profile: str, location: str, result: ProbeResult | None, states: Sequence[CheckState],
                      decide: Decide, alerts: Outbox = (), deleted: Sequence[str] = ()
                      ) -> tuple[int, Incident | None, list[str]]:
        """Commit a result and this location's states, then decide the profile's one shared incident.

        In one transaction that every other location's writer waits for, so two probe processes can never both
        open (or both resolve) an incident: the decision reads the states of every location and the open incident
        as committed, never as a process remembers them. `decide` returns the incident to write (None: no change)
        and the event kinds. Returns (result id, the profile's open incident afterwards or None, events).
        """
        with self.transaction() as tx:
            rid = self._insert_result(tx, profile, location, result) if result is not None else 0
            for state in states:
                self._save_state(tx, profile, location, state)
            for cid in deleted:
                tx.execute("DELETE FROM check_state WHERE profile=? AND location=? AND check_id=?",
                           (profile, location, cid))
            self._serialize_profile(tx, profile)
            everywhere = _states_by_location(tx.execute("SELECT * FROM check_state WHERE profile=?",
                                                        (profile,)).fetchall())
            rows = tx.execute("SELECT * FROM incidents WHERE profile=? AND resolved_at IS NULL ORDER BY id DESC "
                              "LIMIT 1", (profile,)).fetchall()
            was_open = _incident(rows[0]) if rows else None
            incident, events = decide(everywhere, was_open)
            if incident is not None:
                self._save_incident(tx, profile, location, incident)
                self._enqueue_all(tx, profile, location, incident, alerts)
        current = incident if incident is not None else was_open
        return rid, current if current is not None and current.resolved_at is None else None, events

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
    def _insert_result(tx: Tx, profile: str, location: str, result: ProbeResult) -> int:
        row = tx.execute(
            "INSERT INTO probe_results (profile, location, check_id, stage, ts, duration_ms, latency_ms, status, "
            "outcome, kind, attempts, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (profile, location, result.check_id, result.stage, result.ts, result.duration_ms, result.latency_ms,
             result.status, result.outcome, result.kind, result.attempts, result.message),
        ).fetchone()
        return int(row[0])

    @staticmethod
    def _save_state(tx: Tx, profile: str, location: str, s: CheckState) -> None:
        tx.execute(
            "INSERT INTO check_state (profile, location, check_id, stage, consecutive_failures, "
            "consecutive_successes, down, failing_since, recovering_since, last_ts, last_outcome, last_message, "
            "last_latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (profile, location, check_id) DO UPDATE SET stage=excluded.stage, "
            "consecutive_failures=excluded.consecutive_failures, consecutive_successes=excluded.consecutive_successes, "
            "down=excluded.down, failing_since=excluded.failing_since, recovering_since=excluded.recovering_since, "
            "last_ts=excluded.last_ts, last_outcome=excluded.last_outcome, last_message=excluded.last_message, "
            "last_latency_ms=excluded.last_latency_ms",
            (profile, location, s.check_id, s.stage, s.consecutive_failures, s.consecutive_successes, int(s.down),
             s.failing_since, s.recovering_since, s.last_ts, s.last_outcome, s.last_message, s.last_latency_ms),
        )

    @staticmethod
    def _save_incident(tx: Tx, profile: str, location: str, inc: Incident) -> None:
        if location not in inc.locations:
            inc.locations = [*inc.locations, location]
        values = (inc.started_at, inc.detected_at, inc.resolved_at, json.dumps(inc.checks), inc.message,
                  inc.last_alert_at, inc.reminders, json.dumps(sorted(set(inc.locations))))
        if inc.id is None:
            # the unique index on open incidents per profile backs the transaction up: a second open one fails
            inc.id = int(tx.execute(
                "INSERT INTO incidents (started_at, detected_at, resolved_at, checks_json, message, last_alert_at, "
                "reminders, locations_json, profile, location) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (*values, profile, location)).fetchone()[0])
            inc.profile, inc.location = profile, location
        else:
            tx.execute("UPDATE incidents SET started_at=?, detected_at=?, resolved_at=?, checks_json=?, message=?, "
                       "last_alert_at=?, reminders=?, locations_json=? WHERE id=?", (*values, inc.id))

    # -- alert outbox --------------------------------------------------------------------------------------------

    def _enqueue_all(self, tx: Tx, profile: str, location: str, incident: Incident | None, alerts: Outbox) -> None:
        rows = alerts(incident) if callable(alerts) else alerts
        for event, channel, payload in rows:
            self._enqueue(tx, profile, location, incident.id if incident else None, event, channel, payload)

    @staticmethod
    def _enqueue(tx: Tx, profile: str, location: str, incident_id: int | None, event: str, channel: str,
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
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (profile, target, release, verdict, started_at, reports_dir, verdict_json)).fetchone()[0])
            for name, data in (samples or {}).items():
                blob = data.encode() if isinstance(data, str) else data
                tx.execute("INSERT INTO run_samples (run_id, name, encoding, samples) VALUES (?, ?, ?, ?)",
                           (run_id, name, encoding, blob))
        return run_id

    def runs(self, profile: str, verdict: str | None = None, release: str | None = None,
             target: str | None = None, limit: int = 20) -> list[Row]:
        """The newest runs of a profile first, optionally only those with a verdict, release or target."""
        sql, params = _where("SELECT * FROM runs", profile=profile, verdict=verdict, release=release, target=target)
        return self.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])

    def run_samples(self, run_id: int) -> dict[str, tuple[str, bytes]]:
        """metric/request name -> (encoding, encoded samples) of one run."""
        rows = self.query("SELECT name, encoding, samples FROM run_samples WHERE run_id=? ORDER BY name", (run_id,))
        # rows written by synthgate before migration 2 may hold the samples as SQLite TEXT
        return {r["name"]: (r["encoding"], r["samples"].encode() if isinstance(r["samples"], str)
                            else bytes(r["samples"])) for r in rows}

    # -- rollback records ----------------------------------------------------------------------------------------

    def last_rollback_finished(self, deployment: str) -> float | None:
        """When the last successful rollback of a deployment finished (database clock), if ever."""
        rows = self.query("SELECT max(finished_at) FROM rollbacks WHERE deployment=? AND exit_code=0", (deployment,))
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    def rollback_started(self, deployment: str, profile: str, base_url: str) -> int:
        """Record that this process starts rolling a deployment back; returns the record's id."""
        with self.transaction() as tx:
            return int(tx.execute(
                "INSERT INTO rollbacks (deployment, profile, base_url, started_at, host, pid) VALUES "
                "(?, ?, ?, ?, ?, ?) RETURNING id",
                (deployment, profile, base_url, self.now(), socket.gethostname(), os.getpid())).fetchone()[0])

    def rollback_finished(self, record_id: int, exit_code: int | None) -> None:
        """Record how a rollback ended (exit code None: timed out)."""
        with self.transaction() as tx:
            tx.execute("UPDATE rollbacks SET finished_at=?, exit_code=? WHERE id=?", (self.now(), exit_code, record_id))

    def rollbacks(self, deployment: str | None = None) -> list[Row]:
        """Rollback records, oldest first."""
        sql, params = _where("SELECT * FROM rollbacks", deployment=deployment)
        return self.query(sql + " ORDER BY id", params)


@dataclass(frozen=True)
class Split:
    """A window read as rollups over [first_hour, rolled_to) plus raw results over `raw` ranges (to None: now)."""

    first_hour: int
    rolled_to: float
    raw: list[tuple[float, float | None]]

    def raw_sql(self) -> list[tuple[str, list[float]]]:
        """One condition on `ts` per raw range, with its parameters (one index range scan each)."""
        return [("ts>=?", [lo]) if hi is None else ("ts>=? AND ts<?", [lo, hi]) for lo, hi in self.raw]


def _segments(hour0: int, rolled_to: float) -> list[tuple[int, int, int]]:
    """(span, from, to) ranges covering [hour0, rolled_to): whole weeks from the weekly rollups, whole days from the
    daily ones, the rest hourly."""
    return _cover(hour0, rollups.floor_to(rolled_to, rollups.HOUR), len(rollups.SPANS) - 1)


def _cover(lo: int, hi: int, level: int) -> list[tuple[int, int, int]]:
    if hi <= lo:
        return []
    span = rollups.SPANS[level]
    if level == 0:
        return [(span, lo, hi)]
    a, b = rollups.ceil_to(lo, span), rollups.floor_to(hi, span)
    if b <= a:
        return _cover(lo, hi, level - 1)
    return [*_cover(lo, a, level - 1), (span, a, b), *_cover(b, hi, level - 1)]


def _where(sql: str, **filters: Any) -> tuple[str, list[Any]]:
    parts = [(k, v) for k, v in filters.items() if v is not None]
    if not parts:
        return sql, []
    return sql + " WHERE " + " AND ".join(f"{k}=?" for k, _ in parts), [v for _, v in parts]


def _states_by_location(rows: Sequence[Row]) -> dict[str, dict[str, CheckState]]:
    out: dict[str, dict[str, CheckState]] = {}
    for r in rows:
        out.setdefault(r["location"], {})[r["check_id"]] = _state(r)
    return out


def _result(r: Row) -> ProbeResult:
    return ProbeResult(check_id=r["check_id"], ts=r["ts"], duration_ms=r["duration_ms"], status=r["status"],
                       outcome=r["outcome"], message=r["message"], kind=r["kind"], attempts=r["attempts"],
                       latency_ms=r["latency_ms"], stage=r["stage"])


def _state(r: Row) -> CheckState:
    return CheckState(check_id=r["check_id"], stage=r["stage"], consecutive_failures=r["consecutive_failures"],
                      consecutive_successes=r["consecutive_successes"], down=bool(r["down"]),
                      failing_since=r["failing_since"], recovering_since=r["recovering_since"], last_ts=r["last_ts"],
                      last_outcome=r["last_outcome"], last_message=r["last_message"],
                      last_latency_ms=r["last_latency_ms"])


def _incident(r: Row) -> Incident:
    return Incident(id=r["id"], started_at=r["started_at"], detected_at=r["detected_at"], resolved_at=r["resolved_at"],
                    checks=list(json.loads(r["checks_json"])), message=r["message"], last_alert_at=r["last_alert_at"],
                    reminders=r["reminders"], profile=r["profile"], location=r["location"],
                    locations=list(json.loads(r["locations_json"] or "[]")))


def _alert(r: Row) -> AlertRow:
    return AlertRow(id=r["id"], incident_id=r["incident_id"], event=r["event"], channel=r["channel"],
                    payload=json.loads(r["payload_json"]), created_at=r["created_at"], status=r["status"],
                    attempts=r["attempts"], next_attempt_at=r["next_attempt_at"], last_error=r["last_error"])

