"""`synthgate report --from DIR` re-renders every report format from a saved run, without re-running checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from synthgate.results import CheckResult, LoadSummary, RollbackResult, StageResult, Verdict

ROOT = Path(__file__).resolve().parents[2]
# a 1×1 PNG, standing in for an e2e screenshot
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8cf"
                    "c0f01f0005000201e5270ede0000000049454e44ae426082")


def report(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`synthgate report` in a child process, outside CI unless env says otherwise."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GITLAB_"))}
    return subprocess.run([sys.executable, "-m", "synthgate", "report", *args], capture_output=True, text=True,
                          timeout=60, env={**base, **(env or {})}, cwd=str(ROOT), stdin=subprocess.DEVNULL,
                          check=False)


def saved_run(folder: Path) -> Path:
    """A saved reports dir: verdict.json (with a load summary and a rollback) and one screenshot."""
    (folder / "e2e").mkdir(parents=True)
    (folder / "e2e" / "landing.png").write_bytes(PNG)
    checks = [CheckResult(id="health", status="failed", attempts=3, kind="assertion", message="status 500",
                          curl="curl -sS http://127.0.0.1:1/v1/health"),
              CheckResult(id="page:landing", status="passed", duration_ms=40)]
    e2e = [CheckResult(id="journey:landing", status="failed", message="console error",
                       evidence=["e2e/landing.png"])]
    load = LoadSummary(p50_ms=2.0, p95_ms=9.0, p99_ms=20.0, error_rate=0.0, rps=300.0, requests=900,
                       thresholds={"p95_ms": 500.0}, percentiles={"50": 2.0, "95": 9.0, "99": 20.0})
    verdict = Verdict(verdict="fail", exit_code=1, target="demo", base_url="http://127.0.0.1:1",
                      started_at="2026-01-01T00:00:00+00:00", duration_s=12.5,
                      stages=[StageResult.from_checks("smoke", checks, 2.0), StageResult.from_checks("e2e", e2e, 3.0),
                              StageResult.skipped("load", "skipped: an earlier stage failed (fail fast)")],
                      load=load, reason="2 check(s) failed: smoke/health, e2e/journey:landing",
                      rollback=RollbackResult(triggered=True, command=["synthgate", "demo", "rollback"], exit_code=0,
                                              verified=True, message="rollback verified: smoke passes again"))
    (folder / "verdict.json").write_text(verdict.dump(), encoding="utf-8")
    return folder


def test_report_re_renders_every_format_into_another_dir(tmp_path: Path) -> None:
    source = saved_run(tmp_path / "run")
    before = (source / "verdict.json").read_text(encoding="utf-8")
    out = tmp_path / "out"
    proc = report("--from", str(source), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    for name in ("verdict.json", "summary.md", "junit.xml", "report.html"):
        assert (out / name).is_file(), name
        assert f"wrote {out / name}" in proc.stdout
    assert json.loads((out / "verdict.json").read_text()) == json.loads(before)  # the same run, not a new one
    assert (source / "verdict.json").read_text(encoding="utf-8") == before  # the saved run is left alone
    assert not (source / "report.html").exists()
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "FAILED" in summary and "`health`" in summary and "`journey:landing`" in summary
    failures = [c.get("name") for c in ET.parse(out / "junit.xml").getroot().iter("testcase")
                if c.find("failure") is not None]
    assert sorted(failures) == ["health", "journey:landing"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'data-check="health"' in page and 'data-check="journey:landing"' in page
    assert 'id="chart-load-percentiles"' in page and "verified: health restored" in page
    # the screenshot travelled with the reports and is inlined in the page
    assert (out / "e2e" / "landing.png").read_bytes() == PNG
    assert "data:image/png;base64," in page


def test_report_in_place_inside_github_actions_does_not_annotate(tmp_path: Path) -> None:
    source = saved_run(tmp_path / "run")
    summary, output = tmp_path / "summary", tmp_path / "output"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)}
    proc = report("--from", str(source), env=env)
    assert proc.returncode == 0, proc.stderr
    assert (source / "report.html").is_file() and (source / "summary.md").is_file()
    assert not any(line.startswith("::") for line in (proc.stdout + proc.stderr).splitlines())
    assert not summary.exists() and not output.exists()  # a re-rendering is not a gate run


def test_report_from_a_dir_without_a_run_is_a_usage_error(tmp_path: Path) -> None:
    proc = report("--from", str(tmp_path))
    assert proc.returncode == 2
    assert "verdict.json: not found" in proc.stderr and "Traceback" not in proc.stderr
    (tmp_path / "verdict.json").write_text('{"verdict": "maybe"}', encoding="utf-8")
    proc = report("--from", str(tmp_path))
    assert proc.returncode == 2
    assert "not a synthgate verdict" in proc.stderr and "Traceback" not in proc.stderr
