"""Existing debt versus regression (`new_only`): only findings the previous passing release did not have fail.

The gates run in process against a small loopback site whose missing headers the test changes between runs,
with the run history on SQLite and on PostgreSQL; a partial `--stages` run is recorded but never the baseline.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from synthgate import baseline
from synthgate.debt import Debt
from synthgate.e2e.a11y import Scan, Violation
from synthgate.gate import GateOptions, run_gate
from synthgate.profile.model import Profile
from synthgate.results import CheckResult, StageResult, Verdict
from synthgate.stages.pytest_suite import console_mark


class Site:
    """Pages /a and /b; the paths in `bare` answer without X-Content-Type-Options (a hygiene finding)."""

    def __init__(self) -> None:
        self.bare: set[str] = set()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                body = b"<html><body><h1>ok</h1></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                if self.path not in site.bare:
                    self.send_header("X-Content-Type-Options", "nosniff")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    s = Site()
    threading.Thread(target=s.server.serve_forever, daemon=True).start()
    yield s
    s.server.shutdown()


def _profile(tmp_path: Path, **extra: object) -> Path:
    data = {"name": "debt", "pages": [{"id": "a", "path": "/a"}, {"id": "b", "path": "/b"}],
            "hygiene": {"new_only": True, "framing": "off", "csp": "off", "referrer_policy": "off"},
            "links": {"enabled": False}, "security": {"enabled": False}, "defaults": {"retries": 0}, **extra}
    path = tmp_path / "debt.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _gate(profile: Path, site: Site, reports: Path, db: str, lines: list[str], **opts: object) -> Verdict:
    return run_gate(GateOptions(profile=str(profile), base_url=site.url, stages=["smoke"], reports_dir=reports,
                                history_db=db, progress=lines.append, **opts))  # type: ignore[arg-type]


def test_debt_versus_new_findings_against_the_previous_release(site: Site, tmp_path: Path, db_target: str) -> None:
    profile = _profile(tmp_path)
    site.bare = {"/a"}
    lines: list[str] = []
    first = _gate(profile, site, tmp_path / "r1", db_target, lines)  # nothing to compare with: the starting debt
    assert (first.verdict, first.exit_code) == ("pass", 0), first.reason
    assert first.debt is not None and first.debt.first_run and first.debt.existing == 1
    assert any("no previous release" in line for line in lines)
    summary = (tmp_path / "r1" / "summary.md").read_text()
    assert "## Existing debt (1 finding(s); 0 new)" in summary and "No previous release" in summary
    assert not any("release None" in line for line in lines)

    lines.clear()
    second = _gate(profile, site, tmp_path / "r2", db_target, lines)  # the same debt: passes, counted
    assert second.verdict == "pass" and second.debt is not None and not second.debt.first_run
    assert second.debt.existing == 1 and "last passing run #1" in str(second.debt.compared_with)
    [(_, nosniff)] = second.debt_checks()
    assert nosniff.id == "hygiene:nosniff" and nosniff.status == "passed"
    assert "existing debt" in nosniff.message and "debt" in (tmp_path / "r2" / "summary.md").read_text()
    assert any(line.strip().startswith("debt hygiene:nosniff") for line in lines)

    site.bare = {"/a", "/b"}  # the new release also drops the header on /b: a regression
    third = _gate(profile, site, tmp_path / "r3", db_target, lines, no_rollback=True)
    assert (third.verdict, third.exit_code) == ("fail", 1)
    [(_, failed)] = third.failed_checks()
    assert failed.id == "hygiene:nosniff" and "1 new finding(s)" in failed.message and "GET /b" in failed.message
    assert failed.details["debt"]["existing"] == ["X-Content-Type-Options: nosniff missing on GET /a"]


def test_without_new_only_the_same_findings_fail(site: Site, tmp_path: Path) -> None:
    site.bare = {"/a"}
    profile = _profile(tmp_path, hygiene={"new_only": False})
    verdict = _gate(profile, site, tmp_path / "r", str(tmp_path / "h.db"), [], no_rollback=True)
    assert verdict.verdict == "fail" and verdict.debt is None


def test_a_partial_run_is_recorded_but_never_the_baseline(site: Site, tmp_path: Path) -> None:
    site.bare = set()
    db = str(tmp_path / "h.db")
    profile = _profile(tmp_path, fuzz={"endpoints": [], "max_time_s": 5})  # declares smoke and fuzz
    partial = _gate(profile, site, tmp_path / "r", db, [], stages_explicit=True)
    assert partial.verdict == "pass" and partial.complete is False
    opts = GateOptions(profile=str(profile), history_db=db, reports_dir=tmp_path / "r")  # type: ignore[arg-type]
    loaded = Profile.model_validate(yaml.safe_load(profile.read_text()))
    assert baseline.previous_release(opts, loaded, site.url, print) is None  # a full run: not this one
    assert baseline._load_baseline(opts, loaded, site.url, print) is None
    opts.stages = ["smoke"]  # a run of the same stages may compare itself with it
    found = baseline.previous_release(opts, loaded, site.url, print)
    assert found is not None and found[0].ran == ["smoke"]


def test_a11y_findings_are_judged_per_violation_and_element() -> None:
    scan = Scan(url="http://x/intake", version="4", reported=[], failing=[
        Violation("label", "critical", "Form elements must have labels", "", targets=["#company", "#name"])])
    keys = scan.details()["findings"]
    assert keys == ["label (critical) at #company", "label (critical) at #name"]
    profile = Profile.model_validate({"name": "p", "e2e": {"a11y": {"new_only": True}}})
    before = Verdict(verdict="pass", exit_code=0, target="p", base_url="", started_at="", duration_s=0, stages=[
        StageResult.from_checks("e2e", [CheckResult(id="intake.a11y", status="passed",
                                                    details={"findings": keys[:1]})], 0)])
    check = CheckResult(id="intake.a11y", status="failed", kind="assertion", details={"findings": keys})
    Debt(profile, before, "run #1").judge("e2e", check)
    assert check.status == "failed" and check.details["debt"]["new"] == ["label (critical) at #name"]
    same = CheckResult(id="intake.a11y", status="failed", kind="assertion", details={"findings": keys[:1]})
    Debt(profile, before, "run #1").judge("e2e", same)
    assert same.status == "passed" and same.details["debt"]["existing"] == keys[:1]


def test_console_marks_warnings_as_warn_and_names_no_release_none() -> None:
    assert console_mark(CheckResult(id="h", status="passed", message="warning: CSP missing")) == "warn"
    assert console_mark(CheckResult(id="h", status="passed", message="ok")) == "ok"
    assert console_mark(CheckResult(id="h", status="accepted")) == "accepted"
    assert console_mark(CheckResult(id="h", status="failed", kind="tool-error")) == "ERROR"
    assert baseline.release_label(None, "last passing run #3") == "last passing run #3"
    assert baseline.release_label("1.2", "last passing run #3") == "release 1.2 (last passing run #3)"
