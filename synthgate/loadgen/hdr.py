"""HDR recording: every sample at microsecond resolution, merged across processes, encoded for transfer.

Pure Python (no gevent, no Locust): the gate's process decodes what the load subprocess wrote with it.

The hot path (`NameRecorder.ok`) only bumps a dict keyed by the sample quantised to the HDR histogram's
own precision (3 significant digits), so recording costs well under a microsecond; the dict is folded into
real `HdrHistogram`s every half second by `Recorder.flush`, away from the request loop.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour: anything slower is clamped (and is far past every timeout)
SIGNIFICANT_FIGURES = 3  # 0.1 % value precision
RESERVOIR_SIZE = 5000  # raw samples kept per request name, for the baseline's statistical tests
PERF_TO_WALL = time.time() - time.perf_counter()  # converts perf_counter() readings to epoch seconds

# With 3 significant figures the histogram has 2048 sub-buckets: values below 2048 are exact and a value
# of bit length L >= 12 falls in a bucket 2**(L-11) wide. `quantize_us` maps a value to its bucket's
# lowest value, so the dict below has at most ~2k keys per name however many samples arrive.
_SUB_BUCKET_BITS = 11


# the name answers from another version than the pinned one are recorded under (synthgate rollout): kept out of
# the run's figures, they are no evidence about the pinned version (see synthgate/version_pin.py)
WRONG_VERSION = "(answered by another version)"


def quantize_us(value: int) -> int:
    """The lowest value of the HDR bucket `value` falls in (exact below 2048 us)."""
    shift = value.bit_length() - _SUB_BUCKET_BITS
    return (value >> shift) << shift if shift > 0 else value


def new_histogram() -> HdrHistogram:
    """An empty histogram of latencies in microseconds, 1 us to 1 h at 3 significant digits."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)


def encode(hist: HdrHistogram) -> str:
    """The standard compressed base64 HDR encoding (readable by every HdrHistogram port)."""
    return hist.encode().decode("ascii")


def decode(blob: str | bytes) -> HdrHistogram:
    """A histogram from its base64 HDR encoding."""
    data = blob.encode("ascii") if isinstance(blob, str) else blob
    return HdrHistogram.decode(data)


def merge(hists: Iterable[HdrHistogram]) -> HdrHistogram:
    """One histogram holding the counts of all of `hists`."""
    out = new_histogram()
    for hist in hists:
        if hist.get_total_count():
            out.add(hist)
    return out


def percentiles_ms(hist: HdrHistogram, points: Iterable[float] = (50, 90, 95, 99, 99.9)) -> dict[str, float]:
    """Percentile -> milliseconds ({"p50": ..., "p99.9": ...}); empty when the histogram is."""
    if not hist.get_total_count():
        return {}
    values = hist.get_percentile_to_value_dict(list(points))
    return {f"p{_fmt(p)}": round(v / 1000.0, 3) for p, v in values.items()}


def _fmt(p: float) -> str:
    return str(int(p)) if float(p).is_integer() else str(p)


class Reservoir:
    """A uniform random sample of at most `size` values: the ones with the smallest random keys.

    A bottom-k sample merges exactly: the union of several processes' samples, cut back to the `size`
    smallest keys, is a uniform sample of all their values together.
    """

    __slots__ = ("heap", "size", "threshold")

    def __init__(self, size: int = RESERVOIR_SIZE) -> None:
        self.size = size
        self.heap: list[tuple[float, int]] = []  # (-key, value): a max-heap on the key
        self.threshold = 2.0  # keys below this get in; 2.0 while the reservoir is not full

    def offer(self, key: float, value: int) -> bool:
        """Keep (key, value) if its key is among the `size` smallest seen; True when kept."""
        if key >= self.threshold:
            return False
        if len(self.heap) < self.size:
            heapq.heappush(self.heap, (-key, value))
            if len(self.heap) == self.size:
                self.threshold = -self.heap[0][0]
        else:
            heapq.heapreplace(self.heap, (-key, value))
            self.threshold = -self.heap[0][0]
        return True

    def values(self) -> list[int]:
        """The sampled values, in no particular order."""
        return [v for _, v in self.heap]


class NameRecorder:
    """Samples of one request name since the last flush: the per-request hot path."""

    __slots__ = (
        "method", "name", "counts", "n", "fails", "none", "unreachable", "sum_us", "min_us", "max_us",
        "nbytes", "errors", "req_per_sec", "fail_per_sec", "first_wall", "last_wall", "reservoir", "res_new",
        "external",
    )  # fmt: skip

    def __init__(self, method: str, name: str, reservoir_size: int = RESERVOIR_SIZE, external: bool = False) -> None:
        self.method = method
        self.name = name
        self.external = external  # fed from Locust's request events (already in Locust's stats)
        self.reservoir = Reservoir(reservoir_size)
        self._reset()

    def _reset(self) -> None:
        self.counts: dict[int, int] = {}  # quantised latency (us) -> count
        self.n = 0  # requests (successes, failures and connection failures)
        self.fails = 0
        self.none = 0  # requests with no latency sample: no connection was made
        self.unreachable = 0  # of which: DNS failure or connect timeout (the runner could not reach)
        self.sum_us = 0
        self.min_us = HIGHEST_US
        self.max_us = 0
        self.nbytes = 0
        self.errors: dict[str, int] = {}
        self.req_per_sec: dict[int, int] = {}
        self.fail_per_sec: dict[int, int] = {}
        self.first_wall = 0.0
        self.last_wall = 0.0
        self.res_new: list[tuple[float, int]] = []  # reservoir entries added since the last flush

    def ok(self, us: int, nbytes: int, wall: float) -> None:
        """Record one successful request that took `us` microseconds and finished at epoch `wall`."""
        shift = us.bit_length() - _SUB_BUCKET_BITS
        q = (us >> shift) << shift if shift > 0 else us
        counts = self.counts
        counts[q] = counts.get(q, 0) + 1
        if not self.n:
            self.first_wall = wall
        self.n += 1
        self.sum_us += us
        self.nbytes += nbytes
        if us > self.max_us:
            self.max_us = us
        if us < self.min_us:
            self.min_us = us
        sec = int(wall)
        rps = self.req_per_sec
        rps[sec] = rps.get(sec, 0) + 1
        self.last_wall = wall
        key = random.random()
        if key < self.reservoir.threshold and self.reservoir.offer(key, us):
            self.res_new.append((key, us))

    def fail(self, us: int | None, error: str, nbytes: int, wall: float, unreachable: bool = False) -> None:
        """Record one failed request; `us` is None when no connection was made (no latency sample)."""
        if us is None:
            if not self.n:
                self.first_wall = wall
            self.n += 1
            self.none += 1
            self.unreachable += unreachable
            sec = int(wall)
            self.req_per_sec[sec] = self.req_per_sec.get(sec, 0) + 1
            self.last_wall = wall
        else:
            self.ok(us, nbytes, wall)
        self.fails += 1
        self.errors[error] = self.errors.get(error, 0) + 1
        sec = int(wall)
        self.fail_per_sec[sec] = self.fail_per_sec.get(sec, 0) + 1

    def take(self) -> Interval | None:
        """The samples since the last call (None if there are none), and start a new interval."""
        if not self.n:
            return None
        iv = Interval(
            method=self.method,
            name=self.name,
            counts=self.counts,
            n=self.n,
            fails=self.fails,
            none=self.none,
            unreachable=self.unreachable,
            sum_us=self.sum_us,
            min_us=self.min_us,
            max_us=self.max_us,
            nbytes=self.nbytes,
            errors=self.errors,
            req_per_sec=self.req_per_sec,
            fail_per_sec=self.fail_per_sec,
            first_wall=self.first_wall,
            last_wall=self.last_wall,
            reservoir=self.res_new,
            external=self.external,
        )
        self._reset()
        return iv


@dataclass
class Interval:
    """What one name recorded between two flushes (also what Locust's stats are fed from)."""

    method: str
    name: str
    counts: dict[int, int]
    n: int
    fails: int
    none: int
    unreachable: int
    sum_us: int
    min_us: int
    max_us: int
    nbytes: int
    errors: dict[str, int]
    req_per_sec: dict[int, int]
    fail_per_sec: dict[int, int]
    first_wall: float
    last_wall: float
    reservoir: list[tuple[float, int]]
    external: bool = False

    @property
    def samples(self) -> int:
        """Requests that have a latency sample."""
        return self.n - self.none


@dataclass
class NameTotals:
    """Everything recorded for one request name over a run (or since the last report to the master)."""

    method: str
    name: str
    hist: HdrHistogram = field(default_factory=new_histogram)
    n: int = 0
    fails: int = 0
    none: int = 0
    unreachable: int = 0
    sum_us: int = 0
    min_us: int = HIGHEST_US
    max_us: int = 0
    nbytes: int = 0
    first_wall: float = 0.0
    last_wall: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    req_per_sec: dict[int, int] = field(default_factory=dict)
    fail_per_sec: dict[int, int] = field(default_factory=dict)
    reservoir: Reservoir = field(default_factory=Reservoir)
    res_new: list[tuple[float, int]] = field(default_factory=list)  # kept only for wire reports

    def add_interval(self, iv: Interval, keep_new: bool = False) -> None:
        """Fold one flush interval in."""
        record = self.hist.record_value
        for value, count in iv.counts.items():
            record(min(value, HIGHEST_US), count)
        self._add_counters(
            iv.n, iv.fails, iv.none, iv.unreachable, iv.sum_us, iv.min_us, iv.max_us, iv.nbytes,
            iv.first_wall, iv.last_wall, iv.errors, iv.req_per_sec, iv.fail_per_sec,
        )  # fmt: skip
        for key, value in iv.reservoir:
            if self.reservoir.offer(key, value) and keep_new:
                self.res_new.append((key, value))

    def _add_counters(
        self, n: int, fails: int, none: int, unreachable: int, sum_us: int, min_us: int, max_us: int,
        nbytes: int, first: float, last: float, errors: dict[str, int], rps: dict[int, int],
        fps: dict[int, int],
    ) -> None:  # fmt: skip
        if n and (not self.n or first < self.first_wall):
            self.first_wall = first
        self.last_wall = max(self.last_wall, last)
        self.n += n
        self.fails += fails
        self.none += none
        self.unreachable += unreachable
        self.sum_us += sum_us
        self.min_us = min(self.min_us, min_us)
        self.max_us = max(self.max_us, max_us)
        self.nbytes += nbytes
        for k, v in errors.items():
            self.errors[k] = self.errors.get(k, 0) + v
        for sec, v in rps.items():
            self.req_per_sec[int(sec)] = self.req_per_sec.get(int(sec), 0) + v
        for sec, v in fps.items():
            self.fail_per_sec[int(sec)] = self.fail_per_sec.get(int(sec), 0) + v

    def to_wire(self) -> dict[str, Any]:
        """A msgpack/JSON-safe report of what was added since the last call, for the master."""
        out = {
            "method": self.method, "name": self.name, "n": self.n, "fails": self.fails, "none": self.none,
            "unreachable": self.unreachable, "sum_us": self.sum_us, "min_us": self.min_us,
            "max_us": self.max_us, "nbytes": self.nbytes, "first": self.first_wall, "last": self.last_wall,
            "errors": self.errors, "rps": [[s, c] for s, c in self.req_per_sec.items()],
            "fps": [[s, c] for s, c in self.fail_per_sec.items()],
            "hdr": encode(self.hist), "res": [[k, v] for k, v in self.res_new],
        }  # fmt: skip
        return out

    def add_wire(self, d: dict[str, Any]) -> None:
        """Merge a worker's report (from `to_wire`)."""
        other = decode(d["hdr"])
        if other.get_total_count():
            self.hist.add(other)
        self._add_counters(
            d["n"], d["fails"], d["none"], d["unreachable"], d["sum_us"], d["min_us"], d["max_us"],
            d["nbytes"], d["first"], d["last"], d["errors"], dict(d["rps"]), dict(d["fps"]),
        )  # fmt: skip
        for key, value in d["res"]:
            self.reservoir.offer(key, value)

    @property
    def samples(self) -> int:
        """Requests with a latency sample."""
        return self.hist.get_total_count()


class Recorder:
    """All names of one process: the hot-path recorders, and the run's totals they are flushed into."""

    def __init__(self, keep_pending: bool = False, reservoir_size: int = RESERVOIR_SIZE) -> None:
        self.reservoir_size = reservoir_size
        self.live: dict[tuple[str, str], NameRecorder] = {}
        self.totals: dict[tuple[str, str], NameTotals] = {}
        # on a worker: what was flushed since the last report to the master
        self.keep_pending = keep_pending
        self.pending: dict[tuple[str, str], NameTotals] = {}
        self.started_wall = time.time()

    def name(self, method: str, name: str, external: bool = False) -> NameRecorder:
        """The hot-path recorder of one request name (callers keep the reference)."""
        key = (method, name)
        rec = self.live.get(key)
        if rec is None:
            rec = self.live[key] = NameRecorder(method, name, self.reservoir_size, external)
        return rec

    def flush(self) -> list[Interval]:
        """Move every live sample into the totals; returns the intervals (to feed Locust's stats)."""
        out: list[Interval] = []
        for key, rec in list(self.live.items()):
            iv = rec.take()
            if iv is None:
                continue
            out.append(iv)
            self._totals(self.totals, key).add_interval(iv)
            if self.keep_pending:
                self._totals(self.pending, key).add_interval(iv, keep_new=True)
        return out

    def _totals(self, table: dict[tuple[str, str], NameTotals], key: tuple[str, str]) -> NameTotals:
        tot = table.get(key)
        if tot is None:
            tot = table[key] = NameTotals(key[0], key[1], reservoir=Reservoir(self.reservoir_size))
        return tot

    def take_pending(self) -> list[dict[str, Any]]:
        """The wire reports of everything flushed since the last call (a worker's share for the master)."""
        out = [t.to_wire() for t in self.pending.values() if t.n]
        self.pending = {}
        return out

    def add_wire(self, reports: list[dict[str, Any]]) -> None:
        """Merge reports from a worker into the totals (on the master)."""
        for d in reports:
            self._totals(self.totals, (d["method"], d["name"])).add_wire(d)

    def reset(self) -> None:
        """Forget everything (a new test, or Locust's "reset stats")."""
        for rec in self.live.values():
            rec.take()
            rec.reservoir = Reservoir(self.reservoir_size)
        self.totals = {}
        self.pending = {}
        self.started_wall = time.time()

    def overall(self) -> NameTotals:
        """All names together (the "Aggregated" line)."""
        tot = NameTotals("", "Aggregated", reservoir=Reservoir(self.reservoir_size))
        for t in self.totals.values():
            if t.hist.get_total_count():
                tot.hist.add(t.hist)
            tot._add_counters(
                t.n, t.fails, t.none, t.unreachable, t.sum_us, t.min_us, t.max_us, t.nbytes,
                t.first_wall, t.last_wall, t.errors, t.req_per_sec, t.fail_per_sec,
            )  # fmt: skip
        return tot

    def result(self) -> dict[str, Any]:
        """The run's data as written to the result file the gate reads (JSON-safe)."""
        names = {}
        for (method, name), t in sorted(self.totals.items(), key=lambda kv: kv[0][1]):
            key = name if name not in names else f"{method} {name}"
            names[key] = {
                "method": method,
                "requests": t.n,
                "failures": t.fails,
                "samples": t.samples,
                "no_connection": t.none,
                "unreachable": t.unreachable,
                "sum_us": t.sum_us,
                "min_us": t.min_us if t.samples else None,
                "max_us": t.max_us if t.samples else None,
                "bytes": t.nbytes,
                "first": t.first_wall,
                "last": t.last_wall,
                "errors": t.errors,
                "per_second": sorted([s, c, t.fail_per_sec.get(s, 0)] for s, c in t.req_per_sec.items()),
                "hdr": encode(t.hist),
                "reservoir_us": t.reservoir.values(),
            }
        return {"names": names, "started": self.started_wall}
