"""Benchmark: synthgate's e2e stage against a hand-written Playwright script of the same five journeys.

    .venv/bin/python benchmarks/e2e_vs_playwright.py [--repeat 3] [--no-write]

Both run whole-process, side by side in one run against one healthy demo target on loopback, alternating round by
round so a busy machine weighs on both alike:
1. the e2e stage as the gate runs it (`synthgate.stages.e2e.run`: the pytest child, browser start, every journey
   of the `demo` profile with its vitals, axe-core, watched pages, XSS canary and the journeys' hygiene);
2. `python -c <script>`: the same five journeys written by hand with Playwright's sync API, one browser, a fresh
   context per journey, the same texts checked, no vitals, no axe.
Results go to benchmarks/RESULTS-e2e-vs-playwright.md with the machine (nproc, CPU model, load average) and date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hostinfo import cpu_model, load_average  # noqa: E402 - benchmarks/ is on sys.path

from synthgate.demo.server import EmbeddedTarget  # noqa: E402
from synthgate.e2e import discover  # noqa: E402
from synthgate.profile import load_profile  # noqa: E402
from synthgate.stages.base import StageContext  # noqa: E402

RESULTS = ROOT / "benchmarks" / "RESULTS-e2e-vs-playwright.md"

# The five journeys of targets/demo.yaml, by hand: what a team would write without synthgate.
HAND_WRITTEN = r'''
import re, sys
from playwright.sync_api import sync_playwright, expect
base, executable = sys.argv[1], sys.argv[2] or None
with sync_playwright() as p:
    browser = p.chromium.launch(headless=True, executable_path=executable,
                                args=["--no-sandbox", "--disable-gpu", "--disable-quic"])
    def page():
        return browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US").new_page()
    errors = []
    pg = page(); pg.on("pageerror", lambda e: errors.append(str(e)))            # landing
    assert pg.goto(base + "/").status == 200
    expect(pg.locator("body")).to_contain_text("Warm introductions, safely deployed")
    pg.context.close()
    pg = page()                                                                   # intake
    pg.goto(base + "/intake")
    for sel, value in {"#user_email": "ops@synthgate.dev", "#user_name": "Ops Bot", "#target_name": "Ada Lovelace",
                       "#target_company": "Analytical Engines", "#target_reason": "We want to talk about deploy safety",
                       "#user_background": "Platform engineer"}.items():
        pg.fill(sel, value)
    pg.click("#submit")
    pg.wait_for_url(re.compile(r"/dashboard\?campaign=camp_"))
    expect(pg.locator("#campaign .campaign-target")).to_have_text("Ada Lovelace")
    expect(pg.locator("#campaign .campaign-company")).to_have_text("Analytical Engines")
    pg.goto(base + "/intake"); pg.fill("#user_email", "ops@synthgate.dev"); pg.click("#submit")
    expect(pg.locator("#form-error")).to_contain_text("must not be empty")
    assert pg.url.endswith("/intake")
    pg.context.close()
    for path in ("/", "/intake"):                                                 # toggle, intake-toggle
        pg = page(); pg.goto(base + path)
        expect(pg.locator("html")).to_have_attribute("lang", "en")
        pg.click("#lang-toggle")
        expect(pg.locator("html")).to_have_attribute("lang", "zh")
        assert pg.evaluate("localStorage.getItem('language')") == "zh"
        for el in pg.locator("[data-en][data-zh]").all():  # <title> too: text_content, not the rendered text
            assert " ".join(el.text_content().split()) == el.get_attribute("data-zh")
        if path == "/":
            pg.reload(); expect(pg.locator("html")).to_have_attribute("lang", "zh")
            pg.click("#lang-toggle"); expect(pg.locator("html")).to_have_attribute("lang", "en")
        pg.context.close()
    pg = page()                                                                   # intake-old-address
    assert pg.goto(base + "/intake.html").status == 200
    pg.wait_for_url(re.compile(r"/intake$")); expect(pg.locator("#intake-form")).to_be_visible()
    pg.context.close()
    assert not errors, errors
    browser.close()
'''


def stats(values: list[float]) -> str:
    """min / median / max in seconds."""
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def main() -> int:
    """Run the rounds, print the table, write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    profile, path = load_profile("demo")
    choice = discover()
    from synthgate.stages import e2e as e2e_stage

    stage_s: list[float] = []
    script_s: list[float] = []
    failures: list[str] = []
    load_before = load_average()
    with EmbeddedTarget() as target, tempfile.TemporaryDirectory() as tmp:
        for n in range(args.repeat):
            ctx = StageContext(profile=profile, profile_path=path, base_url=target.url,
                               reports_dir=Path(tmp) / f"stage-{n}", progress=lambda _line: None)
            started = time.monotonic()
            result = e2e_stage.run(ctx)
            stage_s.append(time.monotonic() - started)
            failures += [f"stage round {n + 1}: {c.id}" for c in result.checks if c.status != "passed"]
            started = time.monotonic()
            proc = subprocess.run([sys.executable, "-c", HAND_WRITTEN, target.url, choice.executable or ""],
                                  capture_output=True, text=True, timeout=300, check=False)
            script_s.append(time.monotonic() - started)
            if proc.returncode != 0:
                failures.append(f"script round {n + 1}: {proc.stderr.strip().splitlines()[-1:]}")
            print(f"round {n + 1}: e2e stage {stage_s[-1]:.2f} s ({len(result.checks)} checks), "
                  f"hand-written script {script_s[-1]:.2f} s")
    load_after = load_average()
    ratio = statistics.median(stage_s) / statistics.median(script_s)
    journeys = len(profile.journeys)
    lines = [
        "# e2e stage against a hand-written Playwright script of the same journeys",
        "",
        f"Measured {dt.date.today().isoformat()} by `benchmarks/e2e_vs_playwright.py --repeat {args.repeat}`, "
        "side by side in one run (alternating round by round).",
        "",
        f"- machine: {os.cpu_count()} CPU(s), {cpu_model()}; {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        f"- load average (1 min) before / after: {load_before:.1f} / {load_after:.1f} "
        "(a shared machine: other jobs ran)",
        f"- browser: {choice.describe()}",
        f"- profile `demo`: {journeys} journeys, `e2e.parallel` {profile.e2e.parallel}",
        "",
        "| what (whole process) | min / median / max (s) |",
        "|---|---|",
        f"| synthgate e2e stage (pytest child, browser start, journeys with vitals, axe, watched pages, XSS canary, "
        f"journey hygiene) | {stats(stage_s)} |",
        f"| hand-written Playwright script (same journeys and texts, no vitals, no axe) | {stats(script_s)} |",
        f"| ratio of the medians | {ratio:.2f}x |",
        "",
        f"Failed checks: {', '.join(failures) or 'none'}.",
        "",
    ]
    print("\n".join(lines))
    if not args.no_write:
        RESULTS.write_text("\n".join(lines), encoding="utf-8")
    return 0 if not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
