"""Tool errors are not deployment failures: verdict `error` (exit 5), no rollback unless `rollback.on` lists it.

Real gates (in process) against the embedded demo target, with a team's broken conftest.py, a broken fixture, a
missing suite, reports that cannot be written and a broken history store; a near-empty profile; and a target that
answers a JSON document nested a million levels deep (evidence: a failed check, never an internal error).
"""

from __future__ import annotations

import json
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from synthgate.bounded import JsonTooDeep, loads_json
from synthgate.gate import GateOptions, run_gate
from synthgate.results import EXIT_ERROR, CheckResult, StageResult, decide


def _profile(folder: Path, rollback_on: list[str], marker: Path, **extra: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"name": "team", "health": {"path": "/v1/health"}, **QUIET,
            "rollback": {"command": ["touch", str(marker)], "on": rollback_on, "timeout_s": 10, "verify": False},
            **extra}
    path = folder / "synthgate.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


# only what a test looks at: every smoke stage here stays a few seconds
QUIET = {"hygiene": {"enabled": False}, "security": {"enabled": False}, "links": {"enabled": False},
         "defaults": {"retries": 0}}


def _team_tests(folder: Path, conftest: str, tests: str) -> None:
    smoke = folder / "tests" / "smoke"
    smoke.mkdir(parents=True, exist_ok=True)
    (smoke / "conftest.py").write_text(conftest, encoding="utf-8")
    (smoke / "test_team.py").write_text(tests, encoding="utf-8")


def _gate(profile: Path, url: str, reports: Path, lines: list[str] | None = None, **opts: object):
    kwargs: dict = {"profile": str(profile), "base_url": url, "stages": ["smoke"], "reports_dir": reports,
                    "progress": (lines.append if lines is not None else (lambda _: None)), "baseline": "none"}
    kwargs.update(opts)
    return run_gate(GateOptions(**kwargs))


def test_decide_puts_evidence_before_tool_errors_before_missing_data() -> None:
    evidence = CheckResult(id="a", status="failed", kind="assertion")
    tool = CheckResult(id="b", status="failed", kind="tool-error")
    nodata = CheckResult(id="c", status="failed", kind="no-data")
    ok = CheckResult(id="d", status="passed")

    def stage(*checks: CheckResult) -> list[StageResult]:
        return [StageResult.from_checks("smoke", list(checks), 0.0)]

    assert decide(stage(evidence, tool, nodata)) == "fail"
    assert decide(stage(tool, nodata, ok)) == "error"
    assert decide(stage(nodata, ok)) == "inconclusive"
    assert decide(stage(ok)) == "pass"


def test_broken_team_conftest_is_an_error_that_rolls_nothing_back(demo_target, tmp_path: Path) -> None:
    marker = tmp_path / "rolled-back"
    profile = _profile(tmp_path / "repo", ["fail", "inconclusive"], marker)
    _team_tests(profile.parent, "import does_not_exist_anywhere\n", "def test_ok():\n    assert True\n")
    lines: list[str] = []
    verdict = _gate(profile, demo_target.url, tmp_path / "r", lines)
    assert (verdict.verdict, verdict.exit_code) == ("error", EXIT_ERROR)
    assert not marker.exists() and verdict.rollback.triggered is False
    [(stage, check)] = verdict.tool_errors()
    assert (stage, check.id, check.kind) == ("smoke", "smoke.suite", "tool-error")
    assert "does_not_exist_anywhere" in check.message
    saved = json.loads((tmp_path / "r" / "verdict.json").read_text())
    assert saved["verdict"] == "error" and saved["exit_code"] == 5 and saved["log"] == "logs/smoke.log"
    assert (tmp_path / "r" / "logs" / "smoke.log").is_file()
    summary = (tmp_path / "r" / "summary.md").read_text()
    assert "ERROR (exit 5)" in summary and "synthgate could not judge this deployment" in summary
    assert "logs/smoke.log" in summary
    junit = ET.parse(tmp_path / "r" / "junit.xml").getroot()
    assert junit.get("errors") == "1" and junit.get("failures") == "0"
    assert "synthgate could not judge" in (tmp_path / "r" / "report.html").read_text()
    assert "not the deployment's" in verdict.reason or "not in the deployment" in verdict.reason


def test_rollback_on_error_only_when_listed(demo_target, tmp_path: Path) -> None:
    marker = tmp_path / "rolled-back"
    profile = _profile(tmp_path / "repo", ["fail", "error"], marker)
    _team_tests(profile.parent, "import does_not_exist_anywhere\n", "def test_ok():\n    assert True\n")
    verdict = _gate(profile, demo_target.url, tmp_path / "r")
    assert verdict.verdict == "error" and verdict.rollback.triggered is True and marker.exists()
    assert "rolled back only because `rollback.on` lists `error`" in (tmp_path / "r" / "summary.md").read_text()


def test_broken_fixture_is_a_tool_error_and_a_failed_assertion_still_fails(demo_target, tmp_path: Path) -> None:
    marker = tmp_path / "rolled-back"
    profile = _profile(tmp_path / "repo", ["fail"], marker)
    conftest = ("import pytest\n\n@pytest.fixture\ndef broken():\n    raise RuntimeError('fixture broke')\n")
    tests = ("def test_uses_broken(broken):\n    assert True\n\n"
             "def test_team_assertion():\n    assert 1 == 2, 'the team says no'\n")
    _team_tests(profile.parent, conftest, tests)
    verdict = _gate(profile, demo_target.url, tmp_path / "r", no_rollback=True)
    kinds = {c.id.split("::")[-1]: c.kind for _, c in verdict.failed_checks()}
    assert kinds == {"test_uses_broken": "tool-error", "test_team_assertion": "assertion"}
    assert verdict.verdict == "fail" and verdict.exit_code == 1  # evidence first (README: the verdict rule)
    # the fixture alone: an error
    (profile.parent / "tests" / "smoke" / "test_team.py").write_text("def test_uses_broken(broken):\n    pass\n")
    verdict = _gate(profile, demo_target.url, tmp_path / "r2")
    assert verdict.verdict == "error" and not marker.exists()


def test_missing_suite_and_unwritable_reports_are_errors(demo_target, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    profile = _profile(tmp_path / "repo", ["fail"], tmp_path / "m")
    monkeypatch.setenv("SYNTHGATE_SUITES", str(tmp_path / "no-suites-here"))
    verdict = _gate(profile, demo_target.url, tmp_path / "r")
    assert verdict.verdict == "error" and [c.id for _, c in verdict.tool_errors()] == ["smoke.suite"]
    monkeypatch.delenv("SYNTHGATE_SUITES")
    reports = tmp_path / "r2"
    (reports / "summary.md").mkdir(parents=True)  # summary.md cannot be written: a directory is in the way
    verdict = _gate(profile, demo_target.url, reports)
    assert verdict.verdict == "error" and verdict.exit_code == EXIT_ERROR
    assert [c.id for _, c in verdict.tool_errors()] == ["reports.write"]
    assert json.loads((reports / "verdict.json").read_text())["verdict"] == "error"


def test_an_exception_in_synthgate_itself_is_an_error_with_its_log(demo_target, tmp_path: Path) -> None:
    profile = _profile(tmp_path / "repo", ["fail"], tmp_path / "m")
    broken_db = tmp_path / "history-is-a-directory"
    broken_db.mkdir()
    verdict = _gate(profile, demo_target.url, tmp_path / "r", history_db=broken_db, baseline=None)
    assert verdict.verdict == "error" and [c.id for _, c in verdict.tool_errors()] == ["synthgate.internal"]
    assert verdict.log == "logs/synthgate-crash.log"
    assert "Traceback" in (tmp_path / "r" / "logs" / "synthgate-crash.log").read_text()


def test_near_empty_profile_runs_what_it_declares_without_crash(demo_target, tmp_path: Path) -> None:
    marker = tmp_path / "rolled-back"
    bare = tmp_path / "bare.yaml"
    bare.write_text(f"name: bare\nrollback: {{command: [touch, {marker}], 'on': [fail]}}\n")
    lines: list[str] = []
    verdict = _gate(bare, demo_target.url, tmp_path / "r", lines, stages=["smoke", "e2e", "fuzz", "load"],
                    stages_explicit=False)
    assert (verdict.verdict, verdict.exit_code) == ("pass", 0), verdict.reason
    assert {s.name: s.status for s in verdict.stages if s.name in ("e2e", "fuzz", "load")} == {
        "e2e": "skipped", "fuzz": "skipped", "load": "skipped"}
    assert not marker.exists()
    text = "\n".join(lines) + (tmp_path / "r" / "logs" / "smoke.log").read_text()
    assert "INTERNALERROR" not in text and "Traceback" not in text
    # a stage asked for by name that gets nothing: no data (exit 4), still no crash
    verdict = _gate(bare, demo_target.url, tmp_path / "r2", stages=["load"])
    assert (verdict.verdict, verdict.exit_code) == ("inconclusive", 4)


# --- whatever the target sends is evidence -----------------------------------------------------------------------

BOMB = b"[" * 1_000_000 + b"]" * 1_000_000


@pytest.fixture(scope="module")
def json_bomb() -> Iterator[str]:
    """A server whose every answer is a 200 JSON array nested a million levels deep."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)

    def handle(conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n" % len(BOMB) + BOMB)
        except OSError:
            pass
        conn.close()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_deep_json_parse_is_bounded() -> None:
    with pytest.raises(JsonTooDeep, match="nested more than 256 levels"):
        loads_json(BOMB)
    assert loads_json('{"a": ["[[[[", {"b": 1}]}') == {"a": ["[[[[", {"b": 1}]}
    with pytest.raises(ValueError):  # a JsonTooDeep is a ValueError: every caller's "not JSON" path holds
        loads_json(b"[" * 300 + b"]" * 300)


def test_json_nested_a_million_levels_is_a_failed_check(json_bomb: str, tmp_path: Path) -> None:
    lines: list[str] = []
    profile = tmp_path / "p.yaml"
    profile.write_text(yaml.safe_dump({"name": "bomb", "health": {"path": "/health", "expect": {
        "status": 200, "json": {"status": "ok"}}}, **QUIET}))
    verdict = _gate(profile, json_bomb, tmp_path / "r", lines)
    assert (verdict.verdict, verdict.exit_code) == ("fail", 1), verdict.reason
    health = next(c for _, c in verdict.failed_checks() if c.id == "health")
    assert health.kind == "assertion" and "nested more than 256 levels" in health.message
    assert not verdict.tool_errors()
    assert not any("internal error" in line.lower() or "Traceback" in line for line in lines)
