"""A year of probe history: size on disk, and how fast the 365-day report and SLO read it.

Writes `--days` of synthetic history for `--checks` checks, one result per check and minute, through the
store's own code, in bulk:
- the last `--retention-days` (the raw results a probe keeps, default 7) as raw results
  (`Store.insert_results`), rolled up by `Store.roll_up`, exactly as a running probe leaves them;
- every older day as the hourly rollups the probe would have left after pruning: the day's results are
  generated in memory and aggregated by the same `rollups.aggregate`, written by `Store.write_rollups`, and
  their daily rollups by `Store.roll_days` (the raw rows of those days would be pruned anyway; writing and
  deleting 50 million rows would only measure the disk).
Then times what `synthgate probe report --since 365d --json` computes (interpreter start-up aside) and the
365-day SLO (`synthgate.probe.report.slo`), and prints as its last line
`{"bytes": N, "report_s": X, "slo_s": Y, ...}`.

    python benchmarks/probe_history.py --backend sqlite --days 365 --checks 100
    python benchmarks/probe_history.py --backend postgres --days 365 --checks 100   # a throwaway cluster
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "self"))

from hostinfo import describe  # noqa: E402 - benchmarks/ is on sys.path

from synthgate.probe.cli import _reports  # noqa: E402 - what `probe report` calls
from synthgate.probe.report import slo, to_json  # noqa: E402
from synthgate.store import (  # noqa: E402
    ProbeResult,
    Store,
    rollups,  # noqa: E402
)

PROFILE, LOCATION = "bench", "local"
DOWN_RATE = 0.001  # one result in a thousand fails (with evidence)
UNKNOWN_RATE = 0.0005  # and one in two thousand could not reach the target


def day_rows(day: int, checks: list[str]) -> list[tuple[str, float, str, str, float | None]]:
    """One day of results (check_id, ts, status, outcome, latency_ms), one per check and minute (seeded by day)."""
    out: list[tuple[str, float, str, str, float | None]] = []
    rand = random.Random(day).random
    for minute in range(1440):
        t0 = day + minute * 60
        for i, cid in enumerate(checks):
            r = rand()
            ts = t0 + i * 0.1
            if r < DOWN_RATE:
                out.append((cid, ts, "failed", "down", 20.0 + 400.0 * rand()))
            elif r < DOWN_RATE + UNKNOWN_RATE:
                out.append((cid, ts, "failed", "unknown", None))
            else:
                out.append((cid, ts, "passed", "up", 8.0 + 40.0 * rand() * rand()))
    return out


def day_rollups(job: tuple[int, list[str]]) -> list[rollups.Rollup]:
    """The hourly rollups of one generated day (in a worker process: aggregation is the costly part)."""
    day, checks = job
    return list(rollups.aggregate(day_rows(day, checks)).values())


@contextlib.contextmanager
def open_backend(backend: str, db: str | None) -> Iterator[tuple[str, Path | None]]:
    """(database, SQLite file or None): a fresh database of the asked backend."""
    if backend == "postgres":
        from pg import cluster, fresh_database  # the self-tests' throwaway cluster

        with cluster() as url:
            yield fresh_database(url, f"history_{int(time.time())}"), None
        return
    if db:
        yield db, Path(db)
        return
    with tempfile.TemporaryDirectory(prefix="synthgate-history-") as tmp:
        path = Path(tmp) / "history.db"
        yield str(path), path


def size_bytes(store: Store, path: Path | None) -> int:
    """The database's size on disk (SQLite: the file after a WAL checkpoint; PostgreSQL: the database)."""
    if path is None:
        return int(store.query("SELECT pg_database_size(current_database())")[0][0])
    store.query("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    """Write the history, time the reads, print the JSON line last."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--checks", type=int, default=100)
    ap.add_argument("--retention-days", type=int, default=7)
    ap.add_argument("--db", help="SQLite file to write (default: a temporary one)")
    args = ap.parse_args()
    checks = [f"check-{i:03d}" for i in range(args.checks)]
    now = time.time()
    today = rollups.floor_to(now, rollups.DAY)
    first = today - args.days * rollups.DAY
    raw_start = today - args.retention_days * rollups.DAY
    with open_backend(args.backend, args.db) as (db, path), Store(db) as store:
        started = time.monotonic()
        store.register_probe(PROFILE, LOCATION, "http://127.0.0.1:9", 99.9, {"checks": checks})
        store.set_raw_from(PROFILE, LOCATION, raw_start)  # older raw results: pruned, as a probe leaves them
        days = range(first, raw_start, rollups.DAY)
        with multiprocessing.Pool(max(1, min(4, os.cpu_count() or 1))) as pool:
            for n, (day, hours) in enumerate(zip(days, pool.imap(day_rollups, [(d, checks) for d in days]),
                                                 strict=True)):
                store.write_rollups(PROFILE, LOCATION, hours, day, day + rollups.DAY, rollups.HOUR)
                store.roll_days(PROFILE, LOCATION, day, day + rollups.DAY)
                if n % 30 == 0:
                    print(f"rollups: day {n + 1} of {args.days - args.retention_days} "
                          f"({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
        raw = 0
        for day in range(raw_start, today + rollups.DAY, rollups.DAY):
            rows = [r for r in day_rows(day, checks) if r[1] < now]
            store.insert_results(PROFILE, LOCATION, [
                ProbeResult(cid, ts, 12.0, status, outcome, latency_ms=lat,
                            message="" if status == "passed" else "HTTP 503")
                for cid, ts, status, outcome, lat in rows])  # fmt: skip
            raw += len(rows)
            print(f"raw results: {raw:,} ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
        store.roll_up(PROFILE, LOCATION, until=now)
        write_s = time.monotonic() - started
        nbytes = size_bytes(store, path)
        t = time.monotonic()
        reports = _reports(store, PROFILE, LOCATION, 365 * 86400.0, None)
        json.dumps([to_json(r) for r in reports])
        report_s = time.monotonic() - t
        t = time.monotonic()
        year = slo(store, PROFILE, LOCATION, 365 * 86400.0, now=time.time())
        slo_s = time.monotonic() - t
        counts = {
            "raw_results": store.result_count(PROFILE, LOCATION),
            "rollups": int(store.query("SELECT count(*) FROM probe_rollups")[0][0]),
        }
    print(f"machine: {describe()}", file=sys.stderr)
    print(f"{args.backend}: {args.days} days x {args.checks} checks; wrote in {write_s:.0f} s; {counts}; "
          f"365-day uptime {year['uptime']:.4f} %", file=sys.stderr)
    print(json.dumps({"bytes": nbytes, "report_s": round(report_s, 3), "slo_s": round(slo_s, 3),
                      "backend": args.backend, "days": args.days, "checks": args.checks,
                      "write_s": round(write_s, 1), **counts}))


if __name__ == "__main__":
    main()
