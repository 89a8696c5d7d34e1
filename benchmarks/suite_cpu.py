"""Where the self-test suite's CPU goes: `make test`'s two tiers with `--cpu-report`, summed per file and per test.

`make test` is CPU-bound on two cores, so its wall time follows the CPU its tests burn (their own, and that of the
gates, browsers, servers and Locust processes they start and reap). This runs both tiers exactly as `make test`
does, then writes RESULTS-suite-cpu.md: the machine, the date, the wall time of each tier and the files and tests
that cost the most CPU. `--from FILE` summarises an existing report instead of running the suite.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import hostinfo

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TIERS = {"parallel": ["-n", "4", "-m", "not serial"], "serial": ["-m", "serial"]}


def run_tiers(report: Path) -> dict[str, float]:
    """Both tiers of `make test`, each test's CPU appended to `report`; the wall seconds of each tier."""
    walls = {}
    for tier, args in TIERS.items():
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "pytest", "tests/self", "-q", "-p", "no:cacheprovider", *args,
                        f"--cpu-report={report}"], cwd=ROOT, check=False)
        walls[tier] = time.monotonic() - started
    return walls


def summarise(report: Path, walls: dict[str, float]) -> str:
    """The Markdown results: totals, the costliest files and tests."""
    lines = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_file: dict[str, float] = defaultdict(float)
    for line in lines:
        by_file[line["test"].split("::", 1)[0]] += line["cpu_s"]
    total = sum(by_file.values())
    out = [f"# Where `make test`'s CPU goes ({datetime.now(UTC):%Y-%m-%d})", "",
           f"Machine: {hostinfo.describe()}.", "",
           f"{len(lines)} tests, {total / 60:.1f} CPU-minutes counted (each test's worker and the child processes "
           "it reaped; a server a module fixture keeps is counted with the test that stops it)."]
    if walls:
        out.append("Wall time: " + ", ".join(f"{tier} tier {wall / 60:.1f} min" for tier, wall in walls.items()) + ".")
    out += ["", "| file | CPU s | share |", "|---|---:|---:|"]
    for name, cpu in sorted(by_file.items(), key=lambda kv: -kv[1])[:25]:
        out.append(f"| {name} | {cpu:.0f} | {100 * cpu / total:.1f} % |")
    out += ["", "| test | CPU s | wall s |", "|---|---:|---:|"]
    for line in sorted(lines, key=lambda item: -item["cpu_s"])[:25]:
        out.append(f"| {line['test']} | {line['cpu_s']:.0f} | {line['wall_s']:.0f} |")
    return "\n".join(out) + "\n"


def main() -> int:
    """Run (or read) a CPU report and write RESULTS-suite-cpu.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--from", dest="source", type=Path, help="an existing --cpu-report file")
    args = parser.parse_args()
    walls: dict[str, float] = {}
    if args.source is not None:
        report = args.source
    else:
        report = Path(tempfile.mkdtemp(prefix="synthgate-suite-cpu-")) / "cpu.jsonl"
        walls = run_tiers(report)
    text = summarise(report, walls)
    (HERE / "RESULTS-suite-cpu.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
