"""Where the self-test suite's CPU goes: `make test`'s two tiers, by kind of process, per file and per test.

`make test` is CPU-bound on two cores, so its wall time follows the CPU its tests burn (their own, and that of the
gates, browsers, servers and Locust processes they start). This runs both tiers exactly as `make test` does, with
`--cpu-report` (each test's window and worker) and /proc polled throughout (proc_poll.py: every process's CPU),
then writes RESULTS-suite-cpu.md: the machine, the date, each tier's wall time and busy CPU, the CPU by kind of
process, and the files and tests whose processes cost the most. `--from FILE` summarises an earlier run again
(its report, and the processes saved beside it in tiers.json) instead of running the suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hostinfo
import proc_poll

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TIERS = {"parallel": ["-n", "4", "-m", "not serial"], "serial": ["-n", "2", "-m", "serial"]}


def run_tiers(report: Path) -> dict[str, dict[str, Any]]:
    """Both tiers of `make test`, each test's window appended to `report`; per tier its wall seconds, the busy
    CPU seconds of the whole machine and the processes seen."""
    tiers: dict[str, dict[str, Any]] = {}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as `make test` runs it
    for tier, args in TIERS.items():
        poller = proc_poll.ProcPoller()
        busy, started = proc_poll.machine_busy_s(), time.monotonic()
        poller.start()
        subprocess.run([sys.executable, "-m", "pytest", "tests/self", "-q", "-p", "no:cacheprovider", *args,
                        f"--cpu-report={report}"], cwd=ROOT, env=env, check=False)
        poller.stop()
        tiers[tier] = {"wall": time.monotonic() - started, "busy": proc_poll.machine_busy_s() - busy,
                       "procs": poller.procs}
    # beside the report, so `--from` can summarise the same run again
    saved = {tier: {"wall": d["wall"], "busy": d["busy"], "procs": [asdict(p) for p in d["procs"].values()]}
             for tier, d in tiers.items()}
    report.with_name("tiers.json").write_text(json.dumps(saved), encoding="utf-8")
    return tiers


def load_tiers(report: Path) -> dict[str, dict[str, Any]]:
    """The tiers a run saved beside its report (none for a report from plain `pytest --cpu-report`)."""
    path = report.with_name("tiers.json")
    if not path.exists():
        return {}
    saved = json.loads(path.read_text(encoding="utf-8"))
    return {tier: {"wall": d["wall"], "busy": d["busy"],
                   "procs": {(p["pid"], p["started"]): proc_poll.Proc(**p) for p in d["procs"]}}
            for tier, d in saved.items()}


def summarise(report: Path, tiers: dict[str, dict[str, Any]]) -> str:
    """The Markdown results: totals, CPU by kind of process, the costliest files and tests."""
    lines = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines() if line.strip()]
    procs = {key: proc for tier in tiers.values() for key, proc in tier["procs"].items()}
    spawned = proc_poll.by_test(procs, [t for t in lines if "pid" in t]) if procs else {}
    # a test's cost: the processes its worker started while it ran, or without /proc data what its worker reaped
    cost = {t["test"]: spawned.get(t["test"], 0.0) if procs else t["cpu_s"] for t in lines}
    by_file: dict[str, float] = defaultdict(float)
    for test, cpu in cost.items():
        by_file[test.split("::", 1)[0]] += cpu
    total = sum(by_file.values())
    out = [f"# Where `make test`'s CPU goes ({datetime.now(UTC):%Y-%m-%d})", "",
           f"Machine: {hostinfo.describe()}.", ""]
    for tier, data in tiers.items():
        out.append(f"- {tier} tier: {data['wall'] / 60:.1f} min wall, the machine busy {data['busy'] / 60:.1f} "
                   f"CPU-min ({data['busy'] / data['wall']:.2f} of {os.cpu_count()} cores)")
    if procs:
        kinds = proc_poll.by_kind(procs)
        seen = sum(cpu for cpu, _ in kinds.values())
        out += ["", f"Every process /proc showed while the tiers ran: {len(procs)} processes, {seen / 60:.1f} "
                "CPU-minutes.", "", "| kind of process | CPU s | processes | CPU s each | share |",
                "|---|---:|---:|---:|---:|"]
        for kind, (cpu, n) in sorted(kinds.items(), key=lambda kv: -kv[1][0])[:20]:
            out.append(f"| {kind} | {cpu:.0f} | {n} | {cpu / n:.2f} | {100 * cpu / seen:.1f} % |")
        out += ["", "Per file and per test: the CPU of the processes a test's worker started while the test ran "
                "(gates, stage children, browsers, servers). A process counts with the test during which it started: "
                "a module fixture's browser counts with its first test, and the renderers it opens later with "
                "the tests that were running then. The workers' own CPU (in-process gates, test code) is not in "
                "these tables."]
    else:
        out += ["", f"{len(lines)} tests, {total / 60:.1f} CPU-minutes counted (each test's worker and the child "
                "processes it reaped)."]
    out += ["", "| file | CPU s | share |", "|---|---:|---:|"]
    for name, cpu in sorted(by_file.items(), key=lambda kv: -kv[1])[:25]:
        out.append(f"| {name} | {cpu:.0f} | {100 * cpu / total:.1f} % |")
    walls = {t["test"]: t["wall_s"] for t in lines}
    out += ["", "| test | CPU s | wall s |", "|---|---:|---:|"]
    for test, cpu in sorted(cost.items(), key=lambda kv: -kv[1])[:25]:
        out.append(f"| {test} | {cpu:.0f} | {walls[test]:.0f} |")
    return "\n".join(out) + "\n"


def main() -> int:
    """Run (or read) a CPU report and write RESULTS-suite-cpu.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--from", dest="source", type=Path, help="an existing --cpu-report file")
    args = parser.parse_args()
    tiers: dict[str, dict[str, Any]] = {}
    if args.source is not None:
        report = args.source
        tiers = load_tiers(report)
    else:
        report = Path(tempfile.mkdtemp(prefix="synthgate-suite-cpu-")) / "cpu.jsonl"
        tiers = run_tiers(report)
    text = summarise(report, tiers)
    (HERE / "RESULTS-suite-cpu.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
