"""Every process's CPU while something runs, read from /proc (Linux): what kind of process burns a suite's CPU.

`pytest --cpu-report` sees only the CPU its worker reaped; a browser, a demo server or a Locust worker that
another process waits for is invisible there. This polls /proc three times a second and keeps each process's
last utime + stime, its parent and its command line, so the CPU can be grouped by kind of process (a gate, a
stage child, Chromium, a demo server, ...) and by the test whose worker started it. A process that lives less
than one poll is missed; one that ends between polls loses at most its last third of a second.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")
POLL_S = 0.3


@dataclass
class Proc:
    """One process seen while polling."""

    pid: int
    ppid: int
    started: float  # seconds since the epoch
    cmd: str
    comm: str
    cpu_s: float = 0.0


def _boot_time() -> float:
    with open("/proc/stat", encoding="ascii") as stat:
        return float(next(line.split()[1] for line in stat if line.startswith("btime")))


def machine_busy_s() -> float:
    """CPU seconds every core spent busy since boot (all of /proc/stat's first line but idle and iowait)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICK


class ProcPoller:
    """Polls /proc in a thread between start() and stop(); `procs` holds what it saw."""

    def __init__(self) -> None:
        self.procs: dict[tuple[int, float], Proc] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="proc-poll", daemon=True)
        self._boot = _boot_time()
        self._since = 0.0

    def start(self) -> None:
        """Start polling; processes that already ran before are left out."""
        self._since = time.time()
        self._thread.start()

    def stop(self) -> None:
        """Stop polling (after one last poll)."""
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        me = os.getpid()
        while True:
            self._poll(me)
            if self._stop.wait(POLL_S):
                self._poll(me)
                return

    def _poll(self, me: int) -> None:
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == me:
                continue
            try:
                with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as f:
                    stat = f.read()
                rest = stat[stat.rindex(")") + 2:].split()
                started = self._boot + int(rest[19]) / TICK
                if started < self._since - 1:
                    continue
                key = (int(name), started)
                proc = self.procs.get(key)
                if proc is None:
                    with open(f"/proc/{name}/cmdline", "rb") as f:
                        cmd = f.read().replace(b"\0", b" ").decode(errors="replace")[:400]
                    proc = self.procs[key] = Proc(int(name), int(rest[1]), started, cmd,
                                                  stat[stat.index("(") + 1:stat.rindex(")")])
                proc.cpu_s = (int(rest[11]) + int(rest[12])) / TICK
            except (OSError, ValueError, IndexError):
                continue  # ended while being read


_KINDS = [  # (kind, pattern on the command line), first match wins
    ("Chromium", r"chrom|headless_shell"),
    ("Playwright driver (node)", r"playwright/driver|/node "),
    ("PostgreSQL", r"postgres"),
    ("stage child: smoke", r"-m pytest \S*/(suites/)?smoke\b"),
    ("stage child: e2e", r"-m pytest \S*/(suites/)?e2e\b"),
    ("stage child: fuzz", r"-m pytest \S*/(suites/)?fuzz\b"),
    ("stage child: load", r"-m pytest \S*/(suites/)?load\b"),
    ("xdist worker", r"-c import sys;exec\(eval\(sys.stdin.readline\(\)\)\)"),
    ("pytest (other)", r"-m pytest"),
    ("demo target", r"synthgate\.demo\.serve|demo serve"),
    ("synthgate CLI", r"bin/synthgate |-m synthgate "),
    ("pip", r"-m pip|bin/pip"),
    ("Locust", r"locust"),
    ("third-party app", r"gunicorn|kinto|waitress"),
]


def kind_of(proc: Proc) -> str:
    """The kind of a process, from its command line."""
    for kind, pattern in _KINDS:
        if re.search(pattern, proc.cmd):
            if kind == "synthgate CLI":
                word = re.search(r"synthgate\S* (\w+)", proc.cmd)
                return f"synthgate {word.group(1)}" if word else kind
            return kind
    return "python (other)" if "python" in proc.cmd.split(" ", 1)[0] else f"other: {proc.comm}"


def by_kind(procs: dict[Any, Proc]) -> dict[str, tuple[float, int]]:
    """CPU seconds and process count per kind."""
    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for proc in procs.values():
        entry = out[kind_of(proc)]
        entry[0] += proc.cpu_s
        entry[1] += 1
    return {kind: (cpu, int(n)) for kind, (cpu, n) in out.items()}


def by_test(procs: dict[Any, Proc], tests: list[dict[str, Any]]) -> dict[str, float]:
    """CPU seconds of the processes each test's worker started while the test ran (its gates, browsers, servers).

    `tests` are `--cpu-report` lines (test, start, wall_s, pid of the worker).
    """
    workers = {t["pid"] for t in tests}
    windows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for t in tests:
        windows[t["pid"]].append(t)
    by_pid: dict[int, list[Proc]] = defaultdict(list)
    for proc in procs.values():
        by_pid[proc.pid].append(proc)

    def parent(proc: Proc) -> Proc | None:
        older = [p for p in by_pid.get(proc.ppid, []) if p.started <= proc.started + 0.5]
        return max(older, key=lambda p: p.started) if older else None

    out: dict[str, float] = defaultdict(float)
    for proc in procs.values():
        if proc.pid in workers:
            continue
        node: Proc | None = proc
        for _ in range(40):  # up the tree to the worker that started it
            if node is None or node.ppid in workers:
                break
            node = parent(node)
        if node is None or node.ppid not in workers:
            continue
        test = _running(windows[node.ppid], proc.started)
        if test is not None:
            out[test] += proc.cpu_s
    return dict(out)


def _running(tests: list[dict[str, Any]], at: float) -> str | None:
    """The test that ran at `at` on one worker; within a second of its window when none did (clock steps)."""
    for slop in (0.0, 1.0):
        for t in tests:
            if t["start"] - slop <= at <= t["start"] + t["wall_s"] + slop:
                return str(t["test"])
    return None
