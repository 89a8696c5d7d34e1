"""Soak: the healthy demo target, round after round, must pass every time (no failure, no flake).

    .venv/bin/python benchmarks/soak.py

Runs the self-tests that `make test` runs with a few rounds each at their full count (SYNTHGATE_SOAK=1):
twenty smoke gates in a row, ten rounds of the fuzz stage (seeds 11..20, 200 examples per endpoint each), ten
runs of every journey in one warm browser. Writes benchmarks/RESULTS-soak.md with the machine and the date.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from hostinfo import describe, load_average  # noqa: E402 - benchmarks/ is on sys.path

SOAKS = {
    "20 smoke gates in a row": "tests/self/test_gate.py::test_healthy_target_passes_gate_after_gate",
    "10 fuzz rounds": "tests/self/test_fuzz_stage.py::test_healthy_demo_passes_every_round_without_flake",
    "10 journey runs": "tests/self/test_e2e_stage.py::test_healthy_target_passes_the_journeys_round_after_round",
    "10 healthy load gates against their baseline": (
        "tests/self/test_baseline_gate.py::test_healthy_runs_raise_no_regression_and_latency_regression_fails_on_comparison"),
}


def main() -> int:
    """Run each soak test at its full count; the exit code is the number that failed."""
    rows, failed = [], 0
    env = {**os.environ, "SYNTHGATE_SOAK": "1"}
    for name, test in SOAKS.items():
        print(f"== {name}", flush=True)
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pytest", test, "-q", "-p", "no:cacheprovider"], cwd=ROOT,
                              env=env, capture_output=True, text=True, check=False)
        seconds = time.monotonic() - started
        ok = proc.returncode == 0
        failed += not ok
        last = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
        rows.append(f"| {name} | {'pass' if ok else 'FAIL'} | {seconds:.0f} s | {last} |")
        print(f"   {'pass' if ok else 'FAIL'} in {seconds:.0f} s: {last}", flush=True)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    text = "\n".join([
        "# Soak: the healthy demo, round after round", "",
        f"Measured {now[:10]} ({now}) on {describe()}; load average {load_average():.2f} at the end.", "",
        "`make test` runs each of these with a few rounds (5 gates, 3 fuzz rounds, 3 journey runs);",
        "this is the full count. Every round must pass with no failed and no flaky check.", "",
        "| soak | result | wall time | pytest |", "|---|---|---|---|", *rows, ""])
    (ROOT / "benchmarks" / "RESULTS-soak.md").write_text(text, encoding="utf-8")
    return failed


if __name__ == "__main__":
    sys.exit(main())
