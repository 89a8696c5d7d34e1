"""report.html in a real Chromium: a failing gate's report, and one with every section, render offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from verdicts import read_verdict

from synthgate.baseline import compare_latency
from synthgate.profile.model import BaselineConfig
from synthgate.redact import redactor
from synthgate.reports import html
from synthgate.results import BaselineComparison, CheckResult, LoadSummary, RollbackResult, StageResult, Verdict

ROOT = Path(__file__).resolve().parents[2]


def test_the_browser_is_launched_without_traffic_of_its_own(chromium: Any) -> None:
    from synthgate.e2e.browser import discover

    assert {"--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"} <= set(discover().args)
    assert chromium.is_connected()


class OfflinePage:
    """A page that records every request and aborts any that would leave the machine."""

    def __init__(self, chromium: Any) -> None:
        self.context = chromium.new_context(viewport={"width": 1200, "height": 900})
        self.page = self.context.new_page()
        self.requested: list[str] = []
        self.blocked: list[str] = []
        self.context.route("**/*", self._route)
        self.page.on("request", lambda request: self.requested.append(request.url))

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("file://", "data:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def open(self, path: Path) -> Any:
        self.page.goto(path.resolve().as_uri(), wait_until="load")
        self.page.wait_for_timeout(200)  # let anything late (there should be nothing) try to load
        return self.page

    def outside(self) -> list[str]:
        """Every URL that was requested or blocked and is not the file itself or inline data."""
        return self.blocked + [u for u in self.requested if not u.startswith(("file://", "data:"))]

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reports dir of a real failing gate (health-500, smoke only)."""
    reports = tmp_path_factory.mktemp("failing") / "reports"
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GITLAB_"))}
    env.update(SYNTHGATE_LOCK_DIR=str(home / "locks"), SYNTHGATE_HOME=str(home))
    proc = subprocess.run([sys.executable, "-m", "synthgate", "run", "--stages", "smoke", "--demo-fault", "health-500",
                           "--reports", str(reports)], capture_output=True, text=True, timeout=240, env=env,
                          cwd=str(ROOT), stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    return reports


def test_failing_gate_report_shows_verdict_checks_and_latency_offline(chromium: Any, failing_run: Path) -> None:
    verdict = read_verdict(failing_run)
    failed = [c["id"] for s in verdict["stages"] for c in s["checks"] if c["status"] == "failed"]
    assert failed
    view = OfflinePage(chromium)
    try:
        page = view.open(failing_run / "report.html")
        banner = page.locator("header.banner")
        assert banner.is_visible()
        assert "FAILED" in banner.inner_text()
        assert "verdict-fail" in (banner.get_attribute("class") or "")
        for check_id in failed:
            card = page.locator(f'article.failed-check[data-check="{check_id}"]')
            assert card.is_visible()
            assert check_id in card.inner_text()
            assert "attempts:" in card.inner_text()
            assert card.locator("pre.curl").is_visible()  # the curl repro
        chart = page.locator("svg#chart-check-latency")
        assert chart.is_visible()
        box = chart.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100
        ran = [c for s in verdict["stages"] for c in s["checks"] if c["status"] != "skipped" and c["duration_ms"] > 0]
        assert chart.locator("rect.bar").count() == len(ran)
        assert chart.locator("rect.bar-failed").count() == len(failed)
        assert "Rollback" in page.locator("#rollback").inner_text()
        assert "verified" in page.locator("table.rollback-result").inner_text()
        shot = failing_run / "report-screenshot.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
    finally:
        view.close()
    assert view.outside() == []


def _png(chromium: Any, path: Path) -> Path:
    """A real screenshot, standing in for an e2e failure's evidence."""
    page = chromium.new_page(viewport={"width": 400, "height": 240})
    page.set_content('<body style="background:#fde68a"><h1 id="x">intake form: wrong page</h1></body>')
    page.screenshot(path=str(path))
    page.close()
    return path


def full_verdict(reports: Path, screenshot: str) -> Verdict:
    """A verdict with every section: e2e evidence, fuzz shrinking, load charts, baseline, a failed rollback."""
    e2e = StageResult.from_checks("e2e", [
        CheckResult(id="journey:intake-submits", status="failed", attempts=2, kind="assertion", duration_ms=2300,
                    message="after submit the page is /dashboard, expected /dashboard?campaign=…",
                    evidence=[screenshot, "e2e/trace-intake.zip", "../../etc/passwd.png"]),
        CheckResult(id="journey:language-toggle", status="passed", duration_ms=900),
    ], 3.2)
    fuzz = StageResult.from_checks("fuzz", [
        CheckResult(id="fuzz:POST /api/intake:never-5xx", status="failed", attempts=1, kind="assertion",
                    duration_ms=5100, message="property never-5xx broken: 500 for a non-string field",
                    curl="curl -sS -X POST http://127.0.0.1:1/api/intake --data-binary '{\"user_email\": 0}'",
                    evidence=["fuzz/intake-never-5xx.txt"],
                    details={"examples": 212, "requests": 230, "seed": 7, "properties": ["never-5xx"],
                             "shrunk": True}),
    ], 5.1)
    # the load stage's own shapes: requests and failures counted per second, HDR percentiles with the max
    history = [{"t": t, "requests": 400 + 10 * t, "failures": 4 if t > 5 else 0} for t in range(0, 11)]
    load = LoadSummary(p50_ms=3.4, p95_ms=18.5, p99_ms=42.0, error_rate=0.012, rps=452.0, requests=4520,
                       thresholds={"p95_ms": 500.0, "p99_ms": 100.0, "error_rate": 0.01, "min_rps": 100.0},
                       percentiles={"p50": 3.4, "p90": 12.0, "p95": 18.5, "p99": 42.0, "p99.9": 80.0, "max": 95.0},
                       per_request={"POST /api/generate": {"method": "POST", "requests": 2000, "p95_ms": 20.1}},
                       history=history, notes=["open model: 450 req/s target"])
    load_stage = StageResult.from_checks("load", [
        CheckResult(id="load:error_rate", status="failed", message="error rate 1.20 % over 1.00 %",
                    details={"measured": 0.012, "limit": 0.01}),
        CheckResult(id="load:p95_ms", status="passed", message="P95 18.5 ms ≤ 500 ms"),
    ], 12.0, load=load)
    # the baseline block as synthgate.baseline builds it: a real comparison of latency samples (P95 12 -> 16.8 ms)
    before = [3.0] * 50 + [8.0] * 40 + [12.0] * 10
    after = [10.0] * 50 + [14.0] * 40 + [16.8] * 10
    metric = compare_latency("POST /api/generate", before, after, BaselineConfig()).metric()
    baseline = BaselineComparison(release="r41", source="last passing run", metrics=[metric],
                                  regressions=["load:p95_ms"], summary="P95 of POST /api/generate rose 40 %")
    (reports / "e2e").mkdir(exist_ok=True)
    (reports / "e2e" / "trace-intake.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    (reports / "fuzz").mkdir(exist_ok=True)
    (reports / "fuzz" / "intake-never-5xx.txt").write_text(
        'POST http://127.0.0.1:1/api/intake\n\n{"user_email": 0}\n\n-> 500 Internal Server Error\n', encoding="utf-8")
    return Verdict(verdict="fail", exit_code=3, target="demo", base_url="http://127.0.0.1:1", release="r42",
                   started_at="2026-01-01T00:00:00+00:00", duration_s=30.0,
                   stages=[StageResult.from_checks("smoke", [CheckResult(id="health", status="passed",
                                                                         duration_ms=12, attempts=2, flaky=True)],
                                                   0.5), e2e, fuzz, load_stage],
                   load=load, baseline=baseline, reason="3 check(s) failed; rollback did not restore health",
                   rollback=RollbackResult(triggered=True, command=["synthgate", "demo", "rollback"], exit_code=0,
                                           verified=False, duration_s=1.5, output="rolled back to r41",
                                           message="still failing after rollback: health"))


def test_every_section_renders_offline(chromium: Any, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    (reports / "e2e").mkdir(parents=True)
    _png(chromium, reports / "e2e" / "intake-failure.png")
    redactor.add("sg-html-secret-0042", "SG_HTML_SECRET")
    verdict = full_verdict(reports, "e2e/intake-failure.png")
    verdict.stages[1].checks[0].message += " token sg-html-secret-0042 leaked"
    path = html.write(verdict, reports)
    text = path.read_text(encoding="utf-8")
    assert "sg-html-secret-0042" not in text and "[REDACTED:SG_HTML_SECRET]" in text
    assert "@@SG-IMAGE" not in text
    view = OfflinePage(chromium)
    try:
        page = view.open(path)
        assert "FAILED" in page.locator("header.banner").inner_text()
        # the e2e screenshot is inline and decodes; the trace zip is a relative link; the escape attempt is neither
        image = page.locator('article[data-check="journey:intake-submits"] img')
        assert image.count() == 1
        assert (image.get_attribute("src") or "").startswith("data:image/png;base64,")
        assert page.evaluate("(img) => img.naturalWidth", image.element_handle()) == 400
        links = page.locator('article[data-check="journey:intake-submits"] .evidence-link').all_inner_texts()
        assert any("e2e/trace-intake.zip" in t for t in links)
        assert any("../../etc/passwd.png" in t and "not found" in t for t in links)
        fuzz = page.locator('article[data-check="fuzz:POST /api/intake:never-5xx"]')
        assert fuzz.locator(".property").inner_text() == "never-5xx"
        assert "Reproduce the minimal failing example (shrunk)" in fuzz.inner_text()
        assert fuzz.locator("pre.curl").is_visible()
        dump = fuzz.locator("details.evidence-text pre")  # the shrunk request and its answer, inline
        assert dump.is_visible() and '{"user_email": 0}' in dump.inner_text() and "-> 500" in dump.inner_text()
        percentiles = page.locator("svg#chart-load-percentiles")
        assert percentiles.is_visible()
        assert percentiles.locator("polyline.series").count() == 1
        assert percentiles.locator("circle").count() == 6  # one marker per percentile, and the max
        assert percentiles.locator("line.rule").count() == 1  # p99_ms ≤ 100 ms is drawn...
        assert "p95_ms ≤ 500 ms: far above" in (percentiles.text_content() or "")  # ...500 ms would flatten it
        throughput = page.locator("svg#chart-load-throughput")
        assert throughput.is_visible()
        assert throughput.locator("polyline.series").count() == 2  # requests/s and errors/s
        top = throughput.locator("polyline.series").first.get_attribute("points") or ""
        assert len(top.split()) == 11  # one point per second of the history
        assert page.locator("svg#chart-load-latency-time").count() == 0  # the history holds no latency
        thresholds = page.locator("table.thresholds").inner_text()
        assert "broken" in thresholds and "ok" in thresholds  # error rate 1.2 % > 1 %; P95 and rps within
        assert "POST /api/generate" in page.locator("table.per-request").inner_text()
        baseline = page.locator("table.baseline-metrics").inner_text()
        assert "12" in baseline and "16.8" in baseline and "regression" in baseline
        assert verdict.baseline is not None and verdict.baseline.metrics[0].decision == "regression"  # a real one
        assert page.locator("svg#chart-baseline-0 polyline.series").count() == 2  # before and after
        rollback = page.locator("table.rollback-result").inner_text()
        assert "NOT verified" in rollback
        assert page.locator("#flaky").is_visible()
        assert page.locator("#stage-fuzz").is_visible() and page.locator("#stage-load").is_visible()
        page.screenshot(path=str(reports / "report-full.png"), full_page=True)
    finally:
        view.close()
    assert view.outside() == []


def test_render_without_a_reports_dir_links_evidence() -> None:
    verdict = Verdict(verdict="pass", exit_code=0, target="t", base_url="http://x", started_at="now", duration_s=0,
                      stages=[StageResult.from_checks("e2e", [CheckResult(id="j", status="passed",
                                                                          evidence=["e2e/a.png"])], 1.0)])
    page = html.render(verdict)
    assert "PASSED" in page and 'href="e2e/a.png"' in page and "data:image" not in page
    assert "<script" not in page and "http://x" in page
