"""Run a Locust load test in subprocesses and read back exact (HDR) results.

Locust monkey-patches the interpreter with gevent, which must never happen in the gate's own process
(asyncio and httpx run there), so the test runs as `python -m locust` children: one process, or a master
plus N local workers. This module imports neither gevent nor Locust.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from synthgate import run_context
from synthgate.loadgen.hdr import WRONG_VERSION, decode, encode, merge, percentiles_ms
from synthgate.stage_options import PinOption

PROGRESS_PREFIX = "SYNTHGATE_PROGRESS "
PACKAGE_LOCUSTFILE = Path(__file__).with_name("locustfile.py")
WORKER_LOCUSTFILE = Path(__file__).with_name("worker_locustfile.py")
DEFAULT_MASTER_PORT = 5557  # Locust's own default
STARTUP_MARGIN_S = 30.0  # Locust start-up, worker connection, final reports, HTML report
MAX_USERS = 10_000
MAX_WORKERS = 64
PERCENTILE_MIN_SAMPLES = {"p50": 2, "p95": 20, "p99": 100}

Progress = Callable[[str], None]


class LoadRunError(RuntimeError):
    """The load subprocess failed, timed out, or wrote no result."""


@dataclass
class LoadRunResult:
    """What one load run measured; percentiles come from the merged HDR histograms."""

    requests: int = 0
    failures: int = 0
    samples: int = 0  # requests with a latency sample (a response, or a failure after sending)
    no_connection: int = 0  # requests that never got a TCP (or TLS) connection
    unreachable: int = 0  # of which: DNS failure or connect timeout (the runner could not reach the target)
    wrong_version: int = 0  # pinned: answers another version served, outside every figure above (no evidence)
    duration_s: float = 0.0  # first request sent to last request finished
    rps: float = 0.0
    error_rate: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    percentiles: dict[str, float] = field(default_factory=dict)  # p50, p90, p95, p99, p99.9, max
    per_request: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)  # per second: t, requests, failures
    histograms: dict[str, str] = field(default_factory=dict)  # name -> base64 HDR (and "Aggregated")
    samples_ms: dict[str, list[float]] = field(default_factory=dict)  # name -> reservoir of raw latencies
    errors: dict[str, int] = field(default_factory=dict)  # "NAME: error" -> count
    mode: str = "closed"
    arrival_rate: float | None = None
    users: int = 0
    workers: int = 0
    cluster: dict[str, Any] = field(default_factory=dict)  # remote workers: who took part, dropped, refused
    notes: list[str] = field(default_factory=list)
    artefacts: dict[str, str] = field(default_factory=dict)  # kind -> path
    wall_s: float = 0.0  # the whole subprocess run, start-up included

    @property
    def all_unreachable(self) -> bool:
        """True when requests were attempted and every one failed to reach the target at all."""
        return self.requests > 0 and self.unreachable == self.requests

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class LoadRunSpec:
    """How to run: the same knobs as the profile's `load:` section, plus where to write."""

    profile: str  # a profile path or bundled name
    base_url: str
    users: int = 10
    spawn_rate: float | None = None  # default: all users within about a second
    duration_s: float = 8.0
    arrival_rate: float | None = None  # open model (requests/s over all users); None: closed model
    max_requests: int | None = None
    workers: int = 0  # 0: one process; N: a master and N local worker processes
    request_timeout_s: float | None = None
    user_class: str | None = None  # "fast" / "fasthttp"; None: the profile's
    locustfile: Path | None = None  # default: the package's profile locustfile
    out_dir: Path | None = None  # CSV, HTML report, logs, result.json (default: a temp dir)
    insecure_tls: bool = False
    timeout_s: float | None = None  # hard wall-clock limit (default: duration + margin)
    extra_env: dict[str, str] = field(default_factory=dict)
    expect_workers: int = 0  # > 0: a master for this many remote workers (`synthgate load --worker`)
    bind: str | None = None  # the master's HOST:PORT for remote workers (default: all interfaces, 5557)
    workers_wait_s: float = 120.0  # how long the master waits for its remote workers to connect
    pin: PinOption | None = None  # synthgate rollout: VersionPin.to_option(); each answer's version checked


def split_host_port(text: str, default_port: int = DEFAULT_MASTER_PORT) -> tuple[str, int]:
    """HOST[:PORT] (or [IPv6]:PORT) as a pair; raises ValueError naming what is wrong."""
    text = text.strip()
    host, port = text, default_port
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = _port(rest.lstrip(":"), text)
    elif text.count(":") == 1:
        host, raw = text.split(":")
        port = _port(raw, text)
    if not host:
        raise ValueError(f"{text!r}: expected HOST[:PORT], e.g. 10.0.0.5:5557")
    return host, port


def _port(raw: str, text: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    return int(raw)


def worker_command(master: str, profile: str | None = None) -> list[str]:
    """The Locust worker command a remote load machine runs (see `exec_worker`)."""
    host, port = split_host_port(master)
    cmd = [sys.executable, "-m", "locust", "-f", str(WORKER_LOCUSTFILE), "--worker",
           "--master-host", host, "--master-port", str(port), "--loglevel", "INFO"]  # fmt: skip
    if profile:
        cmd += ["--sg-worker-profile", profile]
    return cmd


def exec_worker(master: str, profile: str | None = None) -> None:
    """Become a Locust worker of `master` (this process is replaced: killing it kills the worker).

    The worker also ends when the process that started it dies (Linux's parent-death signal): a supervisor
    (a shell, `timeout`, a container's init) killed mid-run takes its worker along instead of leaving an
    orphan sending load nobody watches.
    """
    cmd = worker_command(master, profile)
    _die_with_parent()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)


def run_load(spec: LoadRunSpec, progress: Progress | None = None) -> LoadRunResult:
    """Run the load test described by `spec` in subprocesses; raise LoadRunError if it produced nothing."""
    users = max(1, min(int(spec.users), MAX_USERS))
    workers = max(0, min(int(spec.workers), MAX_WORKERS))
    duration = max(0.5, float(spec.duration_s))
    spawn_rate = spec.spawn_rate or float(users)
    if spec.arrival_rate:
        spawn_rate = max(spawn_rate, users * 5.0)  # open model: the schedule starts once all are up
    out_dir = Path(spec.out_dir) if spec.out_dir else Path(tempfile.mkdtemp(prefix="synthgate-load-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    result_path = out_dir / "result.json"
    with contextlib.suppress(FileNotFoundError):
        result_path.unlink()
    locustfile = Path(spec.locustfile or PACKAGE_LOCUSTFILE)
    remote = max(0, min(int(spec.expect_workers), MAX_WORKERS))
    if remote:
        workers = 0
    limit = spec.timeout_s or duration + STARTUP_MARGIN_S + duration * 0.1 + 2.0 * workers
    if remote and not spec.timeout_s:
        limit += spec.workers_wait_s

    env = {**os.environ, **spec.extra_env, "SYNTHGATE_PROFILE": str(spec.profile),
           "SYNTHGATE_BASE_URL": spec.base_url, "PYTHONUNBUFFERED": "1"}  # fmt: skip
    run_context.update(load_user_class=spec.user_class)  # the master and workers read it from the run context
    common = [sys.executable, "-m", "locust", "-f", str(locustfile), "--host", spec.base_url, "--loglevel", "INFO"]
    options = []
    if spec.arrival_rate:
        options += ["--arrival-rate", f"{spec.arrival_rate:g}"]
    if spec.max_requests:
        options += ["--max-requests", str(int(spec.max_requests))]
    if spec.request_timeout_s:
        options += ["--request-timeout", f"{spec.request_timeout_s:g}"]
    if spec.insecure_tls:
        options.append("--insecure-tls")
    if spec.pin:
        options += ["--sg-pin", spec.pin.model_dump_json()]
    main_cmd = [
        *common, "--headless", "-u", str(users), "-r", f"{spawn_rate:g}", "--only-summary",
        "--csv", str(out_dir / "locust"), "--csv-full-history", "--html", str(out_dir / "report.html"),
        "--sg-run-time", f"{duration:g}", "--sg-result", str(result_path), "--sg-progress",
        "--exit-code-on-error", "0", *options,
    ]  # fmt: skip
    port = 0
    if remote:
        host, port = split_host_port(spec.bind or f"*:{DEFAULT_MASTER_PORT}")
        main_cmd += ["--master", "--master-bind-host", host, "--master-bind-port", str(port),
                     "--expect-workers", str(remote),
                     "--expect-workers-max-wait", f"{spec.workers_wait_s:g}"]  # fmt: skip
    elif workers:
        port = _free_port()
        main_cmd += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                     "--expect-workers", str(workers), "--expect-workers-max-wait", "30"]  # fmt: skip

    procs: list[subprocess.Popen[str]] = []
    logs: list[IO[str]] = []
    started = time.monotonic()
    try:
        main_log = open(out_dir / "locust.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
        logs.append(main_log)
        master = subprocess.Popen(
            main_cmd, stdout=subprocess.PIPE, stderr=main_log, text=True, env=env, start_new_session=True
        )
        procs.append(master)
        for i in range(workers):
            wlog = open(out_dir / f"worker-{i + 1}.log", "w", encoding="utf-8")  # noqa: SIM115
            logs.append(wlog)
            wcmd = [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port), *options]
            procs.append(
                subprocess.Popen(
                    wcmd, stdout=wlog, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
                )
            )
        reader = threading.Thread(target=_read_progress, args=(master, duration, progress, main_log), daemon=True)
        reader.start()
        try:
            master.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            raise LoadRunError(
                f"the load test did not finish within {limit:.0f} s (duration {duration:g} s); it was killed. "
                f"See {out_dir / 'locust.log'}"
            ) from None
        reader.join(timeout=5)
        for proc in procs[1:]:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _kill(proc)
    finally:
        for proc in procs:
            if proc.poll() is None:
                _kill(proc)
        for f in logs:
            f.close()
    wall = time.monotonic() - started
    if not result_path.exists():
        tail = _tail(out_dir / "locust.log")
        raise LoadRunError(f"the load test wrote no result (exit code {master.returncode}).\n{tail}")
    data = json.loads(result_path.read_text(encoding="utf-8"))
    result = parse_result(data)
    result.wall_s = round(wall, 2)
    result.workers = remote or workers
    result.artefacts = {
        k: str(p)
        for k, p in {
            "stats_csv": out_dir / "locust_stats.csv",
            "history_csv": out_dir / "locust_stats_history.csv",
            "failures_csv": out_dir / "locust_failures.csv",
            "html": out_dir / "report.html",
            "log": out_dir / "locust.log",
            "result": result_path,
        }.items()
        if p.exists()
    }
    return result


def parse_result(data: dict[str, Any]) -> LoadRunResult:
    """A LoadRunResult from the result file the Locust process wrote (see plugin.LoadState.result)."""
    names: dict[str, dict[str, Any]] = data.get("names", {})
    res = LoadRunResult(mode=data.get("mode", "closed"), arrival_rate=data.get("arrival_rate"))
    res.users = int(data.get("users") or 0)
    res.cluster = dict(data.get("cluster") or {})
    hists = {}
    first, last = math.inf, 0.0
    seconds: dict[int, list[int]] = {}
    for name, d in names.items():
        if name.endswith(WRONG_VERSION):  # another version's answers: counted, never part of the figures
            res.wrong_version += d["requests"]
            continue
        hist = decode(d["hdr"])
        hists[name] = hist
        res.requests += d["requests"]
        res.failures += d["failures"]
        res.samples += d["samples"]
        res.no_connection += d["no_connection"]
        res.unreachable += d["unreachable"]
        if d["requests"]:
            first, last = min(first, d["first"]), max(last, d["last"])
        for sec, n, f in d["per_second"]:
            row = seconds.setdefault(int(sec), [0, 0])
            row[0] += n
            row[1] += f
        for err, count in d["errors"].items():
            res.errors[f"{name}: {err}"] = count
        pct = percentiles_ms(hist, (50, 90, 95, 99))
        span = d["last"] - d["first"]
        res.per_request[name] = {
            "method": d["method"],
            "requests": d["requests"],
            "failures": d["failures"],
            "samples": d["samples"],
            "error_rate": round(d["failures"] / d["requests"], 6) if d["requests"] else None,
            "rps": round(d["requests"] / span, 2) if span > 0 else None,
            "mean_ms": round(d["sum_us"] / d["samples"] / 1000.0, 3) if d["samples"] else None,
            "min_ms": round(d["min_us"] / 1000.0, 3) if d["min_us"] is not None else None,
            "max_ms": round(d["max_us"] / 1000.0, 3) if d["max_us"] is not None else None,
            **{f"{k}_ms": v for k, v in pct.items()},
        }
        res.histograms[name] = d["hdr"]
        res.samples_ms[name] = [round(v / 1000.0, 3) for v in d["reservoir_us"]]
    total = merge(hists.values())
    if len(hists) > 1:
        res.histograms["Aggregated"] = encode(total)
    if total.get_total_count():
        pct = percentiles_ms(total, (50, 90, 95, 99, 99.9, 100))
        res.percentiles = {("max" if k == "p100" else k): v for k, v in pct.items()}
        res.p50_ms, res.p95_ms, res.p99_ms = pct["p50"], pct["p95"], pct["p99"]
    if res.requests:
        res.error_rate = round(res.failures / res.requests, 6)
        res.duration_s = round(max(0.0, last - first), 3)
        res.rps = round(res.requests / res.duration_s, 2) if res.duration_s > 0 else 0.0
    if seconds:
        t0 = min(seconds)
        res.history = [{"t": sec - t0, "requests": n, "failures": f} for sec, (n, f) in sorted(seconds.items())]
    for label, need in PERCENTILE_MIN_SAMPLES.items():
        if 0 < res.samples < need:
            res.notes.append(f"{label.upper()} needs at least {need} samples, only {res.samples} were measured")
    if res.mode == "open" and res.arrival_rate and res.duration_s > 1 and res.rps < 0.9 * res.arrival_rate:
        res.notes.append(
            f"open model: {res.rps:.0f} req/s sent of {res.arrival_rate:g} targeted; the users could not keep "
            "up, and latencies include the time requests waited for a free user"
        )
    return res


def format_progress(p: dict[str, Any]) -> str:
    """One progress line from the subprocess's progress record."""
    parts = [f"load {p.get('elapsed_s', 0):.0f}/{p.get('run_time_s', 0):g} s", f"{p.get('users', 0)} users",
             f"{p.get('requests', 0):,} req", f"{p.get('rps', 0):,.0f} req/s"]  # fmt: skip
    if p.get("p95_ms") is not None:
        parts.append(f"P95 {p['p95_ms']:.1f} ms")
    req = p.get("requests") or 0
    parts.append(f"errors {100.0 * (p.get('failures') or 0) / req:.1f} %" if req else "errors -")
    workers = p.get("workers") or []
    if workers:
        rates = [f"{w.get('host')}/{w.get('id')} " + ("GONE" if w.get("missing") else f"{w.get('rps', 0):,.0f} req/s")
                 for w in workers]  # fmt: skip
        parts.append("workers " + ", ".join(rates))
    return " · ".join(parts)


def _read_progress(proc: subprocess.Popen[str], duration: float, progress: Progress | None, log: IO[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(PROGRESS_PREFIX):
            if progress is not None:
                with contextlib.suppress(ValueError, TypeError):
                    progress(format_progress(json.loads(line[len(PROGRESS_PREFIX) :])))
        else:
            log.write(line)
            log.flush()


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (kept across exec); a no-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes  # only here: the one place that calls into libc

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def _kill(proc: subprocess.Popen[str]) -> None:
    """Terminate a child's process group, then kill it if it does not go."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=3)
            return
        except subprocess.TimeoutExpired:
            continue


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
