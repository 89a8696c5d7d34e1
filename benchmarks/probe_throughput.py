"""Probe throughput: checks per minute one `synthgate probe` process sustains against the demo target on one core,
and its memory (RSS) after 10,000 results.

The demo target runs pinned to one core and the probe to the other (`taskset`), with every check of the bundled demo
profile due back to back (interval 1 ms), so the figure is what the probe can do, not what a schedule asks of it.
Each concurrency is compared with a bare thread pool calling `checks.smoke.execute` on the same core (no store, no
incidents: the difference is the probe's own cost), and with the same pool when every check's httpx client builds
its own SSL context, as before `synthgate.http` shared one (an experiment). Prints a Markdown block for
RESULTS-probe.md.

    .venv/bin/python benchmarks/probe_throughput.py [--seconds 20] [--concurrency 1,4,8,16] [--results 10000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from hostinfo import describe  # noqa: E402 - benchmarks/ is on sys.path

ROOT = Path(__file__).resolve().parents[1]
PROBE_CORE, SERVER_CORE = "0", "1"


def pinned(core: str, argv: list[str]) -> list[str]:
    """The command pinned to one core, when taskset exists."""
    return ["taskset", "-c", core, *argv] if shutil.which("taskset") else argv


def machine() -> str:
    """The host line plus the httpx version (the probe's client)."""
    return f"{describe()}, httpx {httpx.__version__}"


def count(db: Path) -> int:
    """Results stored so far (0 before the probe created its tables)."""
    try:
        conn = sqlite3.connect(db, timeout=10)
        try:
            return int(conn.execute("SELECT count(*) FROM probe_results").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def proc_status(pid: int, field: str) -> int:
    """A /proc/PID/status figure in kB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The demo target on its own core."""
    from synthgate.demo.server import free_port

    port = free_port()
    argv = [sys.executable, "-m", "synthgate.demo.serve", "--port", str(port), "--state", str(tmp / "demo.json")]
    server = subprocess.Popen(pinned(SERVER_CORE, argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(url + "/v1/health", timeout=1)
            return server, url
        except httpx.HTTPError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit("the demo target did not start")


def profile_file(tmp: Path, concurrency: int) -> Path:
    """The bundled demo profile with every check due back to back at a concurrency."""
    data = yaml.safe_load((ROOT / "targets" / "demo.yaml").read_text())
    data["probe"] = {"every": "1ms", "concurrency": concurrency, "jitter": 0}
    path = tmp / f"demo-c{concurrency}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def start_probe(tmp: Path, url: str, concurrency: int, db: Path) -> subprocess.Popen[bytes]:
    """A `synthgate probe` process on the probe core."""
    argv = [
        sys.executable,
        "-m",
        "synthgate",
        "probe",
        "--profile",
        str(profile_file(tmp, concurrency)),
        "--base-url",
        url,
        "--db",
        str(db),
        "--reports",
        str(tmp / "reports"),
        "--quiet",
    ]
    return subprocess.Popen(pinned(PROBE_CORE, argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def probe_rate(tmp: Path, url: str, concurrency: int, seconds: float) -> tuple[float, float]:
    """Checks per minute and CPU share of one probe process at a concurrency."""
    db = tmp / f"c{concurrency}.db"
    proc = start_probe(tmp, url, concurrency, db)
    try:
        while count(db) < 20:  # past start-up and the first round
            if proc.poll() is not None:
                raise SystemExit(f"probe exited with {proc.returncode}")
            time.sleep(0.1)
        n0, c0, t0 = count(db), cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        n1, c1, t1 = count(db), cpu_seconds(proc.pid), time.monotonic()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    return (n1 - n0) / (t1 - t0) * 60, (c1 - c0) / (t1 - t0)


def raw_rate(url: str, concurrency: int, seconds: float, fresh_ssl: bool = False) -> float:
    """Checks per minute of a bare thread pool calling execute() on the probe core, in a child process."""
    argv = [sys.executable, __file__, "--raw", url, str(concurrency), str(seconds)]
    if fresh_ssl:
        argv.append("--fresh-ssl")
    out = subprocess.run(pinned(PROBE_CORE, argv), capture_output=True, text=True, timeout=seconds + 120, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def fresh_ssl_contexts() -> None:
    """Experiment only: every check's client builds its own SSL context (loads the CA bundle), as before."""
    import synthgate.checks.smoke as smoke
    from synthgate import http as sg_http

    def make_client(profile: Any, timeout_s: float | None = None, follow_redirects: bool = True) -> httpx.Client:
        timeout = timeout_s or profile.defaults.timeout_s
        headers = {"User-Agent": sg_http.USER_AGENT, **sg_http.expand(profile.headers, profile)}
        return httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers=headers,
            follow_redirects=follow_redirects,
        )

    smoke.make_client = make_client  # type: ignore[assignment]


def raw_main(url: str, concurrency: int, seconds: float, fresh_ssl: bool) -> None:
    """The bare pool: `concurrency` threads calling execute() on the demo checks in turn; prints checks/min."""
    from concurrent.futures import ThreadPoolExecutor

    from synthgate.checks import registry, smoke
    from synthgate.profile import load_profile

    if fresh_ssl:
        fresh_ssl_contexts()
    profile, _ = load_profile("demo")
    checks = registry.checks(profile, probed=True)
    deadline = time.monotonic() + seconds

    def loop(offset: int) -> int:
        n = 0
        while time.monotonic() < deadline:
            smoke.execute(checks[(offset + n) % len(checks)], profile, url)
            n += 1
        return n

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        done = sum(pool.map(loop, range(concurrency)))
    print(done / (time.monotonic() - started) * 60)


def memory_after(tmp: Path, url: str, concurrency: int, results: int) -> tuple[int, int, int, float]:
    """RSS (kB) after 1,000 results and after `results`, peak RSS, and the minutes it took."""
    db = tmp / "memory.db"
    proc = start_probe(tmp, url, concurrency, db)
    started = time.monotonic()
    rss_1k = 0
    try:
        while (n := count(db)) < results:
            if proc.poll() is not None:
                raise SystemExit(f"probe exited with {proc.returncode}")
            if not rss_1k and n >= 1000:
                rss_1k = proc_status(proc.pid, "VmRSS")
            time.sleep(0.5)
        rss, peak = proc_status(proc.pid, "VmRSS"), proc_status(proc.pid, "VmHWM")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    return rss_1k, rss, peak, (time.monotonic() - started) / 60


def client_setup_ms() -> tuple[float, float]:
    """What one httpx.Client costs to create (each smoke check makes one), and with a shared SSL context."""
    import ssl

    def per(make: Any) -> float:
        start = time.perf_counter()
        for _ in range(40):
            make().close()
        return (time.perf_counter() - start) / 40 * 1000

    ctx = ssl.create_default_context()
    return per(httpx.Client), per(lambda: httpx.Client(verify=ctx))


def main() -> None:
    """Measure and print the Markdown block."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement per concurrency")
    parser.add_argument("--concurrency", default="1,4,8,16")
    parser.add_argument("--results", type=int, default=10_000, help="results before the memory reading")
    parser.add_argument("--raw", nargs=3, metavar=("URL", "CONCURRENCY", "SECONDS"), help=argparse.SUPPRESS)
    parser.add_argument("--fresh-ssl", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw:
        raw_main(args.raw[0], int(args.raw[1]), float(args.raw[2]), args.fresh_ssl)
        return
    levels = [int(c) for c in args.concurrency.split(",")]
    load_before = os.getloadavg()[0]
    fresh, shared = client_setup_ms()
    scratch = Path.home() / ".cache" / "synthgate-bench"  # not /tmp: other jobs on a shared machine clean it
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="probe-throughput-", dir=scratch) as tmpdir:
        tmp = Path(tmpdir)
        server, url = start_server(tmp)
        try:
            rows = []
            for c in levels:
                per_min, cpu = probe_rate(tmp, url, c, args.seconds)
                raw = raw_rate(url, c, args.seconds)
                raw_fresh = raw_rate(url, c, args.seconds, fresh_ssl=True)
                rows.append((c, per_min, cpu, raw, raw_fresh))
                print(
                    f"concurrency {c}: probe {per_min:.0f}/min (CPU {cpu:.2f}), bare pool {raw:.0f}/min, "
                    f"with an SSL context per check {raw_fresh:.0f}/min",
                    file=sys.stderr,
                )
            best = max(rows, key=lambda r: r[1])[0]
            rss_1k, rss, peak, minutes = memory_after(tmp, url, best, args.results)
        finally:
            server.terminate()
            server.wait(timeout=10)
    load_after = os.getloadavg()[0]
    print(f"## Probe throughput, {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC\n")
    print(
        f"Machine: {machine()}. Probe on core {PROBE_CORE}, demo target on core {SERVER_CORE} (taskset); "
        f"load average {load_before:.1f} before, {load_after:.1f} after.\n"
    )
    print(
        f"Demo profile: 20 smoke checks (health, routes, declared checks, pages, CORS), all due back to back; "
        f"{args.seconds:g} s per row.\n"
    )
    print(
        "| concurrency | probe checks/min | probe CPU (cores) | bare pool checks/min | bare pool, an SSL context "
        "per check (before) |"
    )
    print("|---:|---:|---:|---:|---:|")
    for c, per_min, cpu, raw, raw_fresh in rows:
        print(f"| {c} | {per_min:,.0f} | {cpu:.2f} | {raw:,.0f} | {raw_fresh:,.0f} |")
    print(
        f"\nMemory at concurrency {best}: RSS {rss_1k / 1024:.1f} MiB after 1,000 results, "
        f"{rss / 1024:.1f} MiB after {args.results:,} (peak {peak / 1024:.1f} MiB; {minutes:.1f} min).\n"
    )
    print(
        f"Client set-up: a new httpx.Client costs {fresh:.1f} ms (an SSL context loading the CA bundle), "
        f"{shared:.2f} ms with a shared SSL context."
    )


if __name__ == "__main__":
    main()
