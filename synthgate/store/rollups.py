"""Hourly, daily and weekly rollups of probe results: the long history in a few hundred bytes per check and hour.

Pure functions, no database: `aggregate` turns raw results into one `Rollup` per (check, period); `merge`
adds rollups up (hours into a day, periods into a window). Latencies go into a fixed log-scale histogram
(four buckets per doubling, 0.1 ms to ~2 min), so any percentile of any window is read off merged buckets
within about 9 % of the exact value, whatever the number of samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

HOUR = 3600
DAY = 86400
WEEK = 7 * DAY  # epoch weeks (from a Thursday): a year is 52 rows per check
SPANS = (HOUR, DAY, WEEK)  # each level is rolled up from the one before it
RETENTION_S = 400 * DAY  # rollups are kept this long (raw results: the profile's probe.retention)
HIST_MIN_MS = 0.1
HIST_STEPS_PER_DOUBLING = 4
HIST_BUCKETS = 84  # 0.1 ms * 2**(84/4) ~ 200 s: anything slower lands in the last bucket


def floor_to(ts: float, span: int) -> int:
    """The start of the period of `span` seconds holding `ts`."""
    return int(math.floor(ts / span)) * span


def ceil_to(ts: float, span: int) -> int:
    """The first period boundary at or after `ts`."""
    return int(math.ceil(ts / span)) * span


def bucket_of(ms: float) -> int:
    """The histogram bucket of a latency in milliseconds."""
    if ms <= HIST_MIN_MS:
        return 0
    return min(HIST_BUCKETS - 1, int(math.log2(ms / HIST_MIN_MS) * HIST_STEPS_PER_DOUBLING))


def bucket_value(index: int) -> float:
    """The value a bucket stands for (its geometric middle), in milliseconds."""
    return round(HIST_MIN_MS * 2 ** ((index + 0.5) / HIST_STEPS_PER_DOUBLING), 3)


def encode_hist(hist: dict[int, int]) -> str:
    """Sparse text form: "bucket:count,..." (the same on SQLite and PostgreSQL)."""
    return ",".join(f"{b}:{c}" for b, c in sorted(hist.items()) if c)


def decode_hist(text: str | None, into: dict[int, int] | None = None) -> dict[int, int]:
    """Counts per bucket from `encode_hist`'s text, added into `into` when given."""
    out = {} if into is None else into
    if text:
        for part in text.split(","):
            b, _, c = part.partition(":")
            out[int(b)] = out.get(int(b), 0) + int(c)
    return out


def percentile_ms(hist: dict[int, int], q: float) -> float | None:
    """The nearest-rank percentile `q` (0-100) of a bucket histogram, or None when it is empty."""
    total = sum(hist.values())
    if not total:
        return None
    rank = max(1, min(total, math.ceil(q / 100.0 * total)))
    seen = 0
    for b in sorted(hist):
        seen += hist[b]
        if seen >= rank:
            return bucket_value(b)
    return bucket_value(max(hist))


@dataclass
class Rollup:
    """One check over one period: counts, minutes by outcome and a latency histogram."""

    check_id: str
    start: int
    span: int = HOUR
    n: int = 0
    failures: int = 0
    n_up: int = 0
    n_down: int = 0
    n_unknown: int = 0
    up_min: int = 0
    down_min: int = 0
    unknown_min: int = 0
    lat_n: int = 0
    lat_sum: float = 0.0
    hist: dict[int, int] = field(default_factory=dict)

    def add(self, other: Rollup) -> None:
        """Fold another rollup of the same check in."""
        self.n += other.n
        self.failures += other.failures
        self.n_up += other.n_up
        self.n_down += other.n_down
        self.n_unknown += other.n_unknown
        self.up_min += other.up_min
        self.down_min += other.down_min
        self.unknown_min += other.unknown_min
        self.lat_n += other.lat_n
        self.lat_sum += other.lat_sum
        for b, c in other.hist.items():
            self.hist[b] = self.hist.get(b, 0) + c

    def row(self) -> tuple[object, ...]:
        """The values stored after (profile, location): see the probe_rollups table."""
        return (self.check_id, self.span, self.start, self.n, self.failures, self.n_up, self.n_down,
                self.n_unknown, self.up_min, self.down_min, self.unknown_min, self.lat_n,
                round(self.lat_sum, 3), encode_hist(self.hist))  # fmt: skip


ROW_COLUMNS = ("check_id", "span", "start", "n", "failures", "n_up", "n_down", "n_unknown", "up_min", "down_min",
               "unknown_min", "lat_n", "lat_sum", "hist")  # fmt: skip


def aggregate(results: Iterable[Sequence[object]], span: int = HOUR) -> dict[tuple[str, int], Rollup]:
    """Rollups per (check, period) from raw rows (check_id, ts, status, outcome, latency_ms).

    A minute counts once, by its worst outcome (down, then unknown, then up), however many results it holds.
    """
    out: dict[tuple[str, int], Rollup] = {}
    minutes: dict[tuple[str, int], int] = {}  # (check, minute) -> worst outcome seen
    log2, scale, top = math.log2, HIST_STEPS_PER_DOUBLING, HIST_BUCKETS - 1
    for check_id, ts, status, outcome, latency in results:  # the hot loop of a year's import: kept flat
        t = float(ts)  # type: ignore[arg-type]
        cid = str(check_id)
        key = (cid, int(t // span) * span)
        r = out.get(key)
        if r is None:
            r = out[key] = Rollup(cid, key[1], span)
        r.n += 1
        if status == "failed":
            r.failures += 1
        if outcome == "up":
            r.n_up += 1
            worst = 0
        elif outcome == "down":
            r.n_down += 1
            worst = 2
        else:
            r.n_unknown += 1
            worst = 1
        if worst != 1 and latency is not None:
            ms = float(latency)  # type: ignore[arg-type]
            r.lat_n += 1
            r.lat_sum += ms
            b = 0 if ms <= HIST_MIN_MS else min(top, int(log2(ms / HIST_MIN_MS) * scale))
            hist = r.hist
            hist[b] = hist.get(b, 0) + 1
        mk = (cid, int(t // 60))
        if minutes.get(mk, -1) < worst:
            minutes[mk] = worst
    for (cid, minute), worst in minutes.items():
        r = out[(cid, floor_to(minute * 60, span))]
        if worst == 0:
            r.up_min += 1
        elif worst == 2:
            r.down_min += 1
        else:
            r.unknown_min += 1
    return out


def merge(rollups: Iterable[Rollup], span: int) -> dict[tuple[str, int], Rollup]:
    """Rollups of longer periods (`span`) from shorter ones."""
    out: dict[tuple[str, int], Rollup] = {}
    for r in rollups:
        key = (r.check_id, floor_to(r.start, span))
        acc = out.get(key)
        if acc is None:
            acc = out[key] = Rollup(r.check_id, key[1], span)
        acc.add(r)
    return out
