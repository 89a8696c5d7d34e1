"""Benchmark: the CPU one e2e gate costs with Debian's full Chromium and with its headless shell.

    .venv/bin/python benchmarks/e2e_browser_cpu.py [--repeat 3] [--no-write]

Each round runs `synthgate run --stages e2e --no-rollback` on the embedded demo target (every journey of the
`demo` profile) with `SYNTHGATE_CHROMIUM` set to one browser, alternating browsers, while `proc_poll` reads every
process's CPU from /proc. Both must pass the gate (web-vitals budgets included). Results go to
benchmarks/RESULTS-e2e-browser.md with the machine and the date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

from hostinfo import describe, load_average  # noqa: E402 - benchmarks/ is on sys.path
from proc_poll import ProcPoller, by_kind, machine_busy_s  # noqa: E402

BROWSERS = {"full Chromium": "/usr/bin/chromium", "headless shell": "/usr/bin/chromium-headless-shell"}


def one_gate(executable: str) -> dict[str, float]:
    """One e2e gate with this browser: wall, the machine's busy CPU, Chromium's CPU and its process count."""
    env = {**os.environ, "SYNTHGATE_CHROMIUM": executable}
    poller = ProcPoller()
    poller.start()
    busy, started = machine_busy_s(), time.monotonic()
    with tempfile.TemporaryDirectory() as reports:
        proc = subprocess.run([sys.executable, "-m", "synthgate", "run", "--stages", "e2e", "--no-rollback",
                               "--reports", reports], env=env, capture_output=True, text=True, timeout=300,
                              check=False)
    wall, busy = time.monotonic() - started, machine_busy_s() - busy
    poller.stop()
    if proc.returncode != 0:
        raise SystemExit(f"{executable}: the healthy gate did not pass (exit {proc.returncode}):\n"
                         f"{proc.stdout[-3000:]}")
    chromium_cpu, chromium_procs = by_kind(poller.procs).get("Chromium", (0.0, 0))
    return {"wall_s": wall, "busy_s": busy, "chromium_s": chromium_cpu, "chromium_procs": chromium_procs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    missing = [exe for exe in BROWSERS.values() if not os.access(exe, os.X_OK)]
    if missing:
        raise SystemExit(f"needs Debian's chromium and chromium-headless-shell; missing: {', '.join(missing)}")
    load_before = load_average()
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in BROWSERS}
    for _ in range(args.repeat):
        for name, exe in BROWSERS.items():
            rounds[name].append(one_gate(exe))
    rows = []
    for name, runs in rounds.items():
        def median(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in runs)
        rows.append((name, median("wall_s"), median("busy_s"), median("chromium_s"), median("chromium_procs")))
    full, shell = rows[0], rows[1]
    lines = [
        "# One e2e gate: Debian's full Chromium against its headless shell",
        "",
        f"Measured {dt.date.today()} by `benchmarks/e2e_browser_cpu.py --repeat {args.repeat}` (medians).",
        "",
        f"- machine: {describe()}",
        f"- load average (1 min) before / after: {load_before:.1f} / {load_average():.1f}",
        "- what: `synthgate run --stages e2e --no-rollback` on the embedded demo target, every journey of the `demo`"
        " profile; both browsers pass the gate, web-vitals budgets included",
        "",
        "| browser | wall s | machine busy CPU s | Chromium CPU s | Chromium processes |",
        "|---|---:|---:|---:|---:|",
        *(f"| {n} | {w:.1f} | {b:.1f} | {c:.1f} | {p:.0f} |" for n, w, b, c, p in rows),
        "",
        f"The headless shell's Chromium CPU is {shell[3] / full[3]:.2f} of the full browser's, and the whole gate's "
        f"{shell[2] / full[2]:.2f}: synthgate prefers `chromium-headless-shell` where it is installed.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        (Path(__file__).parent / "RESULTS-e2e-browser.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
