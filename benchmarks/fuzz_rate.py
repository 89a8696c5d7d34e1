"""Benchmark: fuzz examples per second against the embedded demo target, on loopback.

    .venv/bin/python benchmarks/fuzz_rate.py [--repeat 3] [--examples 200] [--no-write]

Each round runs against one healthy demo target (its own process):
1. the fuzz stage as the gate runs it (`synthgate.stages.fuzz.run` on the bundled `demo` profile: the pytest
   child, the OpenAPI document, Schemathesis and synthgate inputs per operation, the two stateful flows);
2. the hand-declared endpoints alone (the `demo` profile without `openapi`: synthgate's strategies only);
3. a plain request loop (no Hypothesis), the ceiling the target and client set;
4. the hand-declared endpoints through a proxy that adds 100 ms to every answer (a target far away), once with
   `fuzz.concurrency: 1` (serial) and once with the default concurrency: the coverage phase's time, how many of
   its cases were sent, and the random phase's examples per second.
An example is one generated input (for flows, one generated program of several requests). Rates are examples
(and requests) over the time the tests ran, so the child's start-up is counted only in the stage wall time.
Results go to benchmarks/RESULTS-fuzz.md with the machine (nproc, CPU model, load average) and the date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hostinfo import cpu_model, load_average  # noqa: E402 - benchmarks/ is on sys.path

from synthgate.demo.server import EmbeddedTarget  # noqa: E402
from synthgate.profile import load_profile  # noqa: E402
from synthgate.results import StageResult  # noqa: E402
from synthgate.stage_options import StageOptions  # noqa: E402
from synthgate.stages import fuzz as fuzz_stage  # noqa: E402
from synthgate.stages.base import StageContext  # noqa: E402
from synthgate.stages.pytest_suite import run_suite  # noqa: E402

RESULTS = ROOT / "benchmarks" / "RESULTS-fuzz.md"
VALID = (b'{"companyName":"Acme","targetJobTitle":"CTO","problemTheyFace":"Deploys break at night",'
         b'"yourProduct":"A deploy gate","keyBenefit":"Safe releases","callToAction":"Book a call","tone":"Direct"}')




def rates(result: StageResult, prefix: str = "") -> dict[str, float]:
    """Examples, requests and test seconds of the checks whose id starts with `prefix`."""
    checks = [c for c in result.checks if c.id.startswith(prefix) and c.status == "passed"]
    seconds = sum(c.duration_ms for c in checks) / 1000
    examples = sum(int(c.details.get("examples", 0)) for c in checks)
    requests = sum(int(c.details.get("requests", 0)) for c in checks)
    return {"examples": examples, "requests": requests, "seconds": seconds,
            "examples_s": examples / seconds if seconds else 0.0, "requests_s": requests / seconds if seconds else 0.0}


def run_stage(profile: Path | str, url: str, examples: int, only: str | None = None) -> tuple[StageResult, float]:
    """One fuzz stage run; (result, wall seconds)."""
    loaded, path = load_profile(str(profile))
    with tempfile.TemporaryDirectory(prefix="sg-fuzz-bench-") as reports:
        ctx = StageContext(profile=loaded, profile_path=path, base_url=url, reports_dir=Path(reports),
                           progress=lambda _: None,
                           options=StageOptions(seed=1, max_examples=examples, max_time_s=900))
        started = time.perf_counter()
        if only:
            result = run_suite(ctx, "fuzz", 960, ["--assert=plain", "-p", "no:schemathesis", "-k", only])
        else:
            result = fuzz_stage.run(ctx)
        return result, time.perf_counter() - started


def plain_loop(url: str, seconds: float = 3.0) -> float:
    """Requests per second of a bare loop: one client, valid generate bodies, no Hypothesis."""
    with httpx.Client(timeout=10) as client:
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            client.post(url + "/api/generate", content=VALID, headers={"Content-Type": "application/json"})
            client.cookies.clear()
            done += 1
        return done / (time.perf_counter() - started)


class DelayProxy:
    """A loopback proxy that forwards to `upstream` and adds `delay_s` to every answer."""

    def __init__(self, upstream: str, delay_s: float) -> None:
        target = urlsplit(upstream)
        host, port = target.hostname or "127.0.0.1", target.port or 80

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                time.sleep(delay_s)
                conn = http.client.HTTPConnection(host, port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> DelayProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


def latency_round(declared: Path, url: str, concurrency: int, examples: int) -> dict[str, float]:
    """The declared endpoints through the delaying proxy: coverage time and cases, random examples per second."""
    loaded, path = load_profile(str(declared))
    with tempfile.TemporaryDirectory(prefix="sg-fuzz-bench-") as reports:
        ctx = StageContext(profile=loaded, profile_path=path, base_url=url, reports_dir=Path(reports),
                           progress=lambda _: None,
                           options=StageOptions(seed=1, max_examples=examples, max_time_s=600,
                                                concurrency=concurrency))
        started = time.perf_counter()
        result = run_suite(ctx, "fuzz", 700, ["--assert=plain", "-p", "no:schemathesis", "-k", "test_endpoint"])
        wall = time.perf_counter() - started
    checks = [c for c in result.checks if "coverage" in c.details]
    cov_s = sum(float(c.details["coverage"]["seconds"]) for c in checks)
    cases = sum(int(c.details["coverage"]["cases"]) for c in checks)
    sent = sum(int(c.details["coverage"]["sent"]) for c in checks)
    random_s = sum(c.duration_ms for c in checks) / 1000 - cov_s
    examples_done = sum(int(c.details.get("examples", 0)) for c in checks)
    return {"coverage_s": cov_s, "cases": cases, "sent": sent, "cases_s": sent / cov_s if cov_s else 0.0,
            "examples": examples_done, "examples_s": examples_done / random_s if random_s > 0 else 0.0,
            "wall": wall, "failed": len(result.failed_checks)}


def spread(values: list[float], digits: int = 0) -> str:
    """min / median / max."""
    fmt = f"{{:,.{digits}f}}"
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def main() -> int:
    """Run the rounds and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--examples", type=int, default=200, help="max_examples per endpoint and operation")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS-fuzz.md alone")
    parser.add_argument("--delay-ms", type=float, default=100.0, help="latency the proxy adds (rounds 4)")
    parser.add_argument("--delay-examples", type=int, default=30,
                        help="max_examples per endpoint in the delayed rounds (the random phase is serial)")
    args = parser.parse_args()

    demo = yaml.safe_load((ROOT / "targets" / "demo.yaml").read_text(encoding="utf-8"))
    demo["fuzz"].pop("openapi")
    declared = Path(tempfile.mkdtemp(prefix="sg-fuzz-bench-")) / "demo-declared.yaml"
    declared.write_text(yaml.safe_dump(demo, sort_keys=False), encoding="utf-8")

    load_before = load_average()
    rows: dict[str, list[dict[str, float]]] = {"stage": [], "openapi": [], "flows": [], "declared": []}
    walls: list[float] = []
    plain: list[float] = []
    failed: list[str] = []
    for n in range(args.repeat):
        with EmbeddedTarget() as target:
            result, wall = run_stage("demo", target.url, args.examples)
            failed += [f"round {n + 1}: {c.id}: {c.message[:200]}" for c in result.failed_checks]
            walls.append(wall)
            rows["stage"].append(rates(result))
            flows = rates(result, "fuzz.flow.")
            rows["flows"].append(flows)
            whole = rates(result)
            rows["openapi"].append({k: whole[k] - flows[k] for k in ("examples", "requests", "seconds")})
            declared_result, _ = run_stage(declared, target.url, args.examples, only="test_endpoint")
            failed += [f"round {n + 1} (declared): {c.id}: {c.message[:200]}" for c in declared_result.failed_checks]
            rows["declared"].append(rates(declared_result))
            plain.append(plain_loop(target.url))
        print(f"round {n + 1}: stage {wall:.1f} s, {rows['stage'][-1]['examples_s']:.0f} examples/s", flush=True)
    delayed: dict[str, dict[str, float]] = {}
    with EmbeddedTarget() as target, DelayProxy(target.url, args.delay_ms / 1000) as proxy:
        for name, concurrency in (("serial", 1), ("concurrent", 8)):
            delayed[name] = latency_round(declared, proxy.url, concurrency, args.delay_examples)
            print(f"{args.delay_ms:.0f} ms away, {name}: coverage {delayed[name]['coverage_s']:.1f} s", flush=True)
    for row in rows["openapi"]:
        row["examples_s"] = row["examples"] / row["seconds"] if row["seconds"] else 0.0
        row["requests_s"] = row["requests"] / row["seconds"] if row["seconds"] else 0.0
    load_after = load_average()

    def line(name: str, key: str, what: str) -> str:
        data = rows[key]
        return (f"| {name} | {spread([r['examples_s'] for r in data])} | {spread([r['requests_s'] for r in data])} | "
                f"{int(statistics.median([r['examples'] for r in data])):,} | {what} |")

    speedup = delayed["serial"]["coverage_s"] / max(delayed["concurrent"]["coverage_s"], 1e-9)
    now = dt.datetime.now(dt.UTC)
    text = "\n".join([
        "# Fuzz examples per second against the demo target",
        "",
        f"Measured {now:%Y-%m-%d %H:%M} UTC by `benchmarks/fuzz_rate.py --repeat {args.repeat} "
        f"--examples {args.examples}`.",
        "",
        f"- machine: {os.cpu_count()} CPU(s), {cpu_model()}; {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        f"- load average (1 min) before / after: {load_before:.1f} / {load_after:.1f} (a shared machine: other "
        "jobs ran; target and fuzzer share its cores)",
        "- target: the embedded demo target (uvicorn + SQLite) on loopback, healthy release; fuzz `max_rps` 2000 "
        "(the pacer never waits at these rates); seed 1",
        "",
        "| what | examples/s (min / median / max) | requests/s (min / median / max) | examples per round | notes |",
        "|---|---|---|---|---|",
        line("fuzz stage, `demo` profile (all tests)", "stage", "OpenAPI operations and flows"),
        line("OpenAPI operations (Schemathesis + synthgate inputs)", "openapi",
             "a third Schemathesis cases, checked by its response checks too"),
        line("stateful flows (quota, create-read)", "flows", "one example = one program of several requests"),
        line("hand-declared endpoints (no OpenAPI)", "declared", "synthgate strategies only"),
        "",
        f"- fuzz stage wall time, start-up of the pytest child included: {spread(walls, 1)} s",
        f"- plain request loop (one httpx client, valid `POST /api/generate`, no Hypothesis): "
        f"{spread(plain)} requests/s: the ceiling the target and client set",
        "",
        "Failed checks: " + ("; ".join(failed) if failed else "none."),
        "",
        f"## A target {args.delay_ms:.0f} ms away: serial against concurrent",
        "",
        f"The hand-declared endpoints of the `demo` profile through a loopback proxy that adds {args.delay_ms:.0f} ms "
        f"to every answer; `max_examples` {args.delay_examples} per endpoint for the random phase (Hypothesis "
        "draws one example at a time, so that phase stays serial); the coverage phase sends its cases "
        "`fuzz.concurrency` at a time, paced by `max_rps`.",
        "",
        "| fuzz.concurrency | coverage phase (s) | coverage cases sent / planned | cases/s | random examples/s "
        "| stage wall (s) | failed checks |",
        "|---|---|---|---|---|---|---|",
        *[f"| {1 if name == 'serial' else 8} ({name}) | {r['coverage_s']:.1f} | {r['sent']:.0f} / {r['cases']:.0f} | "
          f"{r['cases_s']:.1f} | {r['examples_s']:.1f} | {r['wall']:.1f} | {r['failed']:.0f} |"
          for name, r in delayed.items()],
        "",
        f"- the coverage phase took {speedup:.1f}x less time with 8 requests in flight than one at a time.",
        "",
    ])
    print(text)
    if not args.no_write:
        RESULTS.write_text(text, encoding="utf-8")
        print(f"wrote {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
