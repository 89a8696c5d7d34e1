"""Benchmark: synthgate's FastUser against wrk and Locust's FastHttpUser, on one loopback nginx.

    .venv/bin/python benchmarks/load_generator.py [--seconds 8] [--repeat 2] [--no-write]

nginx runs one worker pinned to core 0 (`taskset -c 0`); every generator runs pinned to core 1, one at a
time, 50 connections each, in turn, in one run. Two kinds of rounds:

1. Saturation: each tool as fast as it can (closed loop, no think time): req/s, and the P50 each reports.
2. Fixed load: a rate every tool sustains, to compare reported latency without generator queueing.
   wrk has no fixed-rate mode (wrk2 is not packaged), so wrk paces each connection with a Lua `delay()`
   of 50 ms between requests (~1k req/s over 50 connections); Locust's FastHttpUser uses
   `constant(0.05)`; synthgate's FastUser runs its open model at the request rate wrk achieved. A
   modest rate keeps every tool far from saturation, so reported latency is the server's plus each
   tool's own measurement overhead (the open model counts any lag behind its schedule as latency, by
   design, so it must not be starved of CPU to compare).

Results go to benchmarks/RESULTS-load.md. Needs nginx and wrk (`apt-get install -y nginx-light wrk`).
Loopback only: nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hostinfo import describe as machine  # noqa: E402 - benchmarks/ is on sys.path

from synthgate.loadgen.runner import LoadRunSpec, run_load  # noqa: E402

RESULTS = ROOT / "benchmarks" / "RESULTS-load.md"
CONNECTIONS = 50
SERVER_CORE = "0"
GENERATOR_CORE = 1
PACE_MS = 50  # 50 connections x one request per ~50 ms: about 1k req/s

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{ default_type text/plain; return 200 "hello from nginx\\n"; }}
    }}
}}
"""

FASTHTTP_LOCUSTFILE = """\
import os
from locust import FastHttpUser, constant, task

class Bench(FastHttpUser):
    wait_time = constant(float(os.environ.get("BENCH_WAIT_S", "0")))

    @task
    def root(self):
        self.client.get("/")
"""

PROFILE = """\
name: bench
load:
  tasks: [{name: root, path: /}]
"""

WRK_PACE = f"function delay()\n  return {PACE_MS}\nend\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def measured(fn: Callable[..., dict[str, float]], *args: Any, **kw: Any) -> dict[str, float]:
    """Run one round; add the CPU seconds its generator processes used and req per CPU-second."""
    cpu0 = _children_cpu()
    out = fn(*args, **kw)
    cpu = _children_cpu() - cpu0
    out["cpu_s"] = cpu
    out["rps_per_cpu"] = out["rps"] * out.get("elapsed_s", 0.0) / cpu if cpu > 0 else float("nan")
    return out


def _ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", value.strip())
    if not m:
        raise ValueError(value)
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def run_wrk(url: str, seconds: float, script: Path | None = None) -> dict[str, float]:
    """wrk, one thread, 50 connections: req/s and its P50."""
    cmd = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{int(seconds)}s", "--latency", url + "/"]
    if script:
        cmd[1:1] = ["-s", str(script)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50_ms": p50, "elapsed_s": total / rps if rps else 0.0}


def run_fasthttp(url: str, seconds: float, workdir: Path, wait_s: float = 0.0) -> dict[str, float]:
    """Locust FastHttpUser (plain Locust, no synthgate code loaded): req/s and the P50 it reports."""
    lf = workdir / "fasthttp_locustfile.py"
    lf.write_text(FASTHTTP_LOCUSTFILE)
    prefix = workdir / f"fasthttp{wait_s:g}"
    cmd = [sys.executable, "-m", "locust", "-f", str(lf), "--headless", "-u", str(CONNECTIONS), "-r", "50",
           "-t", f"{int(seconds)}s", "--host", url, "--csv", str(prefix), "--only-summary",
           "--loglevel", "WARNING"]  # fmt: skip
    env = {**os.environ, "BENCH_WAIT_S": str(wait_s)}
    subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, env=env, check=False)
    with open(f"{prefix}_stats.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    rps = float(row["Requests/s"])
    return {"rps": rps, "p50_ms": float(row["50%"]), "elapsed_s": int(row["Request Count"]) / rps if rps else 0.0}


def run_reference(url: str, requests: int = 3000, gap_s: float = 0.001) -> dict[str, float]:
    """Ground truth for the fixed-load round: one blocking socket, one request at a time, nothing else in flight.

    What it measures is the loopback round trip plus a few microseconds of Python: a floor the other tools'
    reported latency can be held against.
    """
    host, port = url.removeprefix("http://").split(":")
    request = f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    samples: list[float] = []
    started = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(requests):
            t0 = time.perf_counter()
            sock.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
            while len(body) < length:
                body += sock.recv(65536)
            samples.append((time.perf_counter() - t0) * 1000)
            time.sleep(gap_s)
    samples.sort()
    return {"rps": requests / (time.perf_counter() - started), "p50_ms": samples[len(samples) // 2]}


def run_fastuser(url: str, seconds: float, workdir: Path, arrival_rate: float | None = None) -> dict[str, float]:
    """synthgate's FastUser through synthgate's own runner (HDR recording, batched stats, CSV, HTML)."""
    profile = workdir / "bench.yaml"
    profile.write_text(PROFILE)
    spec = LoadRunSpec(profile=str(profile), base_url=url, users=CONNECTIONS, duration_s=seconds,
                       arrival_rate=arrival_rate, out_dir=workdir / f"fastuser{arrival_rate or 0:g}")  # fmt: skip
    r = run_load(spec)
    return {"rps": r.rps, "p50_ms": r.p50_ms or float("nan"), "failures": r.failures, "elapsed_s": r.duration_s}



def main() -> int:
    """Run every round once (saturation rounds `--repeat` times) and write the results file."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    for tool in ("nginx", "wrk", "taskset"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            print(f"{tool} not found: apt-get install -y nginx-light wrk util-linux", file=sys.stderr)
            return 2
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="synthgate-bench-") as tmp:
        work = Path(tmp)
        port = _free_port()
        (work / "nginx.conf").write_text(NGINX_CONF.format(dir=work, port=port))
        cmd = ["taskset", "-c", SERVER_CORE, nginx, "-c", str(work / "nginx.conf"), "-p", str(work)]
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"  # no trailing slash: FastHttpUser would send "//"
            for _ in range(50):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            os.sched_setaffinity(0, {GENERATOR_CORE})  # every generator below inherits core 1
            (work / "pace.lua").write_text(WRK_PACE)
            sat: dict[str, list[dict[str, float]]] = {"wrk": [], "fasthttp": [], "fastuser": []}
            for i in range(args.repeat):
                for tool in sat:
                    print(f"saturation round {i + 1}: {tool} ...", flush=True)
                    if tool == "wrk":
                        sat[tool].append(measured(run_wrk, url, args.seconds))
                    elif tool == "fasthttp":
                        sat[tool].append(measured(run_fasthttp, url, args.seconds, work))
                    else:
                        sat[tool].append(measured(run_fastuser, url, args.seconds, work))
                    print(f"  {sat[tool][-1]}", flush=True)
            print("fixed-load rounds ...", flush=True)
            fixed = {"wrk": run_wrk(url, args.seconds, work / "pace.lua")}
            print(f"  wrk paced: {fixed['wrk']}", flush=True)
            fixed["fasthttp"] = run_fasthttp(url, args.seconds, work, wait_s=PACE_MS / 1000)
            print(f"  fasthttp paced: {fixed['fasthttp']}", flush=True)
            fixed["fastuser"] = run_fastuser(url, args.seconds, work, arrival_rate=round(fixed["wrk"]["rps"]))
            print(f"  fastuser open model: {fixed['fastuser']}", flush=True)
            fixed["reference"] = run_reference(url)
            print(f"  reference (one request at a time): {fixed['reference']}", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=10)
    report = render(sat, fixed, args.seconds, load_before, os.getloadavg()[0])
    print(report)
    if not args.no_write:
        RESULTS.write_text(report, encoding="utf-8")
        print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


def render(
    sat: dict[str, list[dict[str, float]]],
    fixed: dict[str, dict[str, float]],
    seconds: float,
    load_before: float,
    load_after: float,
) -> str:
    """The results file."""
    names = {"wrk": "`wrk` (C, -t1)", "fasthttp": "Locust `FastHttpUser`", "fastuser": "synthgate `FastUser`"}

    def best(tool: str) -> dict[str, float]:
        return max(sat[tool], key=lambda r: r["rps"])

    lines = [
        "# Load generator benchmark",
        "",
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine()}",
        f"- 1-minute load average before / after the run: {load_before:.1f} / {load_after:.1f} "
        "(other work on this 2-core machine competes with both the server and the generators)",
        f"- server: nginx, 1 worker pinned to core {SERVER_CORE}, `return 200` (17-byte body), keep-alive",
        f"- generators: pinned to core {GENERATOR_CORE}, {CONNECTIONS} connections, {seconds:g} s rounds, in turn, "
        "in one run (`benchmarks/load_generator.py`)",
        "- FastUser runs through synthgate's runner, i.e. with everything the gate uses: every sample in an HDR "
        "histogram, reservoir sampling, batched Locust stats, CSV and HTML report",
        "",
        "## Saturation (closed loop, no think time)",
        "",
        "| tool | "
        + " | ".join(f"round {i + 1} req/s" for i in range(len(sat["wrk"])))
        + " | requests per generator CPU-second (best round) | P50 reported (best round) |",
        "|---|" + "---|" * len(sat["wrk"]) + "---|---|",
    ]
    for tool in sat:
        cells = " | ".join(f"{r['rps']:,.0f}" for r in sat[tool])
        b = best(tool)
        lines.append(f"| {names[tool]} | {cells} | {b['rps_per_cpu']:,.0f} | {b['p50_ms']:.2f} ms |")
    w, f, u = best("wrk")["rps"], best("fasthttp")["rps"], best("fastuser")["rps"]
    wc, fc, uc = (best(t)["rps_per_cpu"] for t in ("wrk", "fasthttp", "fastuser"))
    lines += [
        "",
        f"- **FastUser / wrk: {u / w:.2f}×** by req/s (goal ≥ 0.5× per core; both on one core), "
        f"{uc / wc:.2f}× by requests per CPU-second",
        f"- **FastUser / FastHttpUser: {u / f:.2f}×** by req/s (goal ≥ 4×), {uc / fc:.2f}× by requests per CPU-second",
        "- ratios use each tool's best round of this run; the per-round figures show the machine's noise. "
        "Requests per CPU-second (user + system time of the generator's processes, from `getrusage`) is less "
        "sensitive to other load on the machine; for the Python tools it includes their start-up "
        "(about 1 CPU-second for Locust's imports).",
        "",
        "## Fixed load (reported latency at a rate every tool sustains)",
        "",
        f"wrk cannot send at a fixed rate, so each of its {CONNECTIONS} connections waits {PACE_MS} ms between "
        "requests (Lua `delay()`), which holds it near "
        f"{fixed['wrk']['rps']:,.0f} req/s; FastHttpUser uses `constant({PACE_MS / 1000:g})`; FastUser runs its open "
        "model at the rate wrk reached (latency measured from each request's intended send time when it had to "
        "wait for a free connection, else from the send).",
        "",
        "| tool | req/s | P50 reported |",
        "|---|---|---|",
    ]
    names["reference"] = "reference: one blocking socket, one request at a time"
    for tool in ("wrk", "fasthttp", "fastuser", "reference"):
        if tool in fixed:
            lines.append(f"| {names[tool]} | {fixed[tool]['rps']:,.0f} | {fixed[tool]['p50_ms']:.3f} ms |")
    pw, pu = fixed["wrk"]["p50_ms"], fixed["fastuser"]["p50_ms"]
    lines += [
        "",
        f"- **FastUser P50 / wrk P50: {pu / pw:.2f}** (goal: within 10 %, i.e. 0.90-1.10)",
    ]
    if "reference" in fixed:
        pr = fixed["reference"]["p50_ms"]
        lines.append(f"- against the one-request-at-a-time reference ({pr:.3f} ms): FastUser {pu / pr:.2f}x, "
                     f"wrk {pw / pr:.2f}x; the tool closer to 1.0 reports closer to the server's real latency")
    lines += [
        "- Locust's FastHttpUser reports whole milliseconds (its stats round response times), so its P50 at "
        "this load cannot be compared below 1 ms.",
        "",
        "## Reading these figures",
        "",
        "- When wrk's req/s is far below its requests per CPU-second, wrk was not the bottleneck: the one nginx "
        "worker (or the machine's other load) was, and the req/s ratio then says how close each tool gets to "
        "what the server can give. Requests per CPU-second compares the generators' own cost per request.",
        "- Rounds run one after another, so other load on the machine changes between rounds; compare ratios "
        "from runs with a low load average, or the CPU-second column.",
        "- In the fixed-load round the open model measures from the intended send time whenever a request had "
        "to wait for a free connection; a generator starved of CPU therefore reports its own lag as latency "
        "(the safe direction for a gate), which wrk's paced closed loop does not.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
