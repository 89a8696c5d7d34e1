"""Benchmark: the e2e stage's wall time on the embedded demo target, browser start included.

    .venv/bin/python benchmarks/e2e_wall_time.py [--repeat 5] [--no-write]

Three figures, each over `--repeat` rounds against one healthy demo target on loopback:
1. the e2e stage as the gate runs it (`synthgate.stages.e2e.run`): the pytest child process, browser
   discovery and launch, every journey of the `demo` profile, evidence handling;
2. the browser launch alone (Playwright driver + headless Chromium with synthgate's flags);
3. the journeys alone in a warm browser (a fresh context per journey), with each journey's own time.
Results go to benchmarks/RESULTS-e2e.md with the machine (nproc, CPU model, load average) and the date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hostinfo import cpu_model, load_average  # noqa: E402 - benchmarks/ is on sys.path

from synthgate.demo.server import EmbeddedTarget  # noqa: E402
from synthgate.e2e import discover, plan_all  # noqa: E402
from synthgate.e2e.runner import BrowserSession  # noqa: E402
from synthgate.profile import load_profile  # noqa: E402
from synthgate.stages.base import StageContext  # noqa: E402

RESULTS = ROOT / "benchmarks" / "RESULTS-e2e.md"




def stats(values: list[float]) -> str:
    """min / median / max in seconds."""
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def main() -> int:
    """Run the rounds, print the table, write RESULTS-e2e.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    profile, path = load_profile("demo")
    steps = plan_all(profile)
    choice = discover()
    from synthgate.stages import e2e as e2e_stage

    stage_s: list[float] = []
    launch_s: list[float] = []
    journeys_s: list[float] = []
    per_journey: dict[str, list[float]] = {}
    failures: list[str] = []
    load_before = load_average()
    with EmbeddedTarget() as target, tempfile.TemporaryDirectory() as tmp:
        for n in range(args.repeat):
            ctx = StageContext(
                profile=profile,
                profile_path=path,
                base_url=target.url,
                reports_dir=Path(tmp) / f"stage-{n}",
                progress=lambda _line: None,
            )
            started = time.monotonic()
            result = e2e_stage.run(ctx)
            stage_s.append(time.monotonic() - started)
            failures += [f"stage round {n + 1}: {c.id}" for c in result.checks if c.status != "passed"]
            print(f"stage round {n + 1}: {stage_s[-1]:.2f} s ({result.status}, {len(result.checks)} checks)")
        for n in range(args.repeat):
            session = BrowserSession(choice)
            session.start()
            try:
                launch_s.append(session.launch_s)
                started = time.monotonic()
                run = session.run(profile, target.url, Path(tmp) / f"warm-{n}")
                journeys_s.append(time.monotonic() - started)
            finally:
                session.close()
            failures += [f"warm round {n + 1}: {c}" for c, r in run.results.items() if r.status != "passed"]
            for check_id, r in run.results.items():
                per_journey.setdefault(check_id.split(".")[0], [0.0] * args.repeat)[n] += r.duration_ms / 1000
            print(f"warm round {n + 1}: launch {launch_s[-1]:.2f} s, journeys {journeys_s[-1]:.2f} s")
    load_after = load_average()
    lines = [
        "# e2e stage wall time on the embedded demo target",
        "",
        f"Measured {dt.date.today().isoformat()} by `benchmarks/e2e_wall_time.py --repeat {args.repeat}`.",
        "",
        f"- machine: {os.cpu_count()} CPU(s) (`nproc`: {len(os.sched_getaffinity(0))}), {cpu_model()}; "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        f"- load average (1 min) before / after: {load_before} / {load_after} (a shared machine: other jobs ran)",
        f"- browser: {choice.describe()}; Playwright {_playwright_version()}",
        f"- profile `demo`: {len(profile.journeys)} journeys, {len(steps)} steps (checks), "
        f"`e2e.parallel` {profile.e2e.parallel}, retries {profile.e2e.retries}, trace on failure",
        "",
        "| what | min / median / max (s) |",
        "|---|---|",
        f"| e2e stage as the gate runs it (pytest child, browser start, journeys) | {stats(stage_s)} |",
        f"| browser launch alone | {stats(launch_s)} |",
        f"| all journeys in a warm browser | {stats(journeys_s)} |",
    ]
    lines += [
        f"| journey `{name}` (sum of its steps, warm) | {stats(values)} |" for name, values in per_journey.items()
    ]
    lines += ["", f"Failed checks: {', '.join(failures) if failures else 'none'}.", ""]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        RESULTS.write_text(text, encoding="utf-8")
        print(f"written to {RESULTS.relative_to(ROOT)}")
    return 1 if failures else 0


def _playwright_version() -> str:
    from importlib.metadata import version

    return version("playwright")


if __name__ == "__main__":
    sys.exit(main())
