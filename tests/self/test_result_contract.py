"""One result contract: the stage child writes `CheckResult` lines that the gate reads back with the same model
(a misspelled key fails loudly), and every producer turns an attempt into a result through one builder."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from synthgate import auth
from synthgate.checks.outcome import Attempted, Outcome, result_of
from synthgate.gate import preflight
from synthgate.plugin import RESULT_PROPERTY, Recorder
from synthgate.probe.jobs import auth_job, probe_result
from synthgate.profile import Profile
from synthgate.results import CheckResult
from synthgate.stages.pytest_suite import read_results

CHILD_TEST = '''
def test_good(sg):
    sg.set(id="good", attempts=2, flaky=True, details={"status": 200})


def test_misspelled(sg):
    sg.set(id="misspelled", flakey=True)


def test_wrong_type(sg):
    sg.set(attempts="many")
'''


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_misspelled_key_in_a_result_line_fails_loudly(tmp_path: Path) -> None:
    good = CheckResult(id="x", status="passed", attempts=2, flaky=True).to_line()
    assert CheckResult.from_line(good).flaky  # the same model both ways
    bad = json.loads(good) | {"flakey": True}
    with pytest.raises(ValidationError, match="flakey"):
        CheckResult.from_line(json.dumps(bad))
    nested = json.loads(good) | {"traffic": {"sent": 1, "server_erors": 1}}
    with pytest.raises(ValidationError, match="server_erors"):
        CheckResult.from_line(json.dumps(nested))
    # the gate reading a results file: the bad line becomes a tool error naming the key, a torn last line is ignored
    path = tmp_path / "smoke.jsonl"
    path.write_text(good + json.dumps(bad) + "\n" + '{"id": "torn', encoding="utf-8")
    checks = read_results(path)
    assert [c.id for c in checks] == ["x", "smoke.result-line-2"]
    assert checks[1].status == "failed" and checks[1].is_tool_error and "flakey" in checks[1].message


def test_the_stage_child_writes_check_results_and_refuses_unknown_fields(tmp_path: Path) -> None:
    (tmp_path / "test_child.py").write_text(CHILD_TEST, encoding="utf-8")
    results = tmp_path / "out" / "results.jsonl"
    proc = subprocess.run([sys.executable, "-m", "pytest", str(tmp_path / "test_child.py"), "--synthgate-results",
                           str(results), "--synthgate-reports", str(tmp_path / "out"), "-p", "no:cacheprovider",
                           "-q", "--rootdir", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = results.read_text(encoding="utf-8").splitlines()
    # every line is a CheckResult, nothing else (a test outside the bundled suites is a user check: file::name)
    checks = {c.id: c for c in map(CheckResult.from_line, lines)}
    good = checks["test_child.py::test_good"]
    assert good.status == "passed" and good.flaky and good.attempts == 2 and good.details == {"status": 200}
    assert good.message == "passed after a retry" and good.traffic is not None
    wrong = checks["test_child.py::test_misspelled"]
    assert wrong.status == "failed" and wrong.is_tool_error and "flakey" in wrong.message
    typed = checks["test_child.py::test_wrong_type"]  # a passing test whose fields do not fit: no pass
    assert typed.status == "failed" and typed.is_tool_error and "attempts" in typed.message
    assert len(lines) == 3  # the child went on: one line per test


class _Item:
    """The little of a pytest item a Recorder touches (its user properties, the reports option)."""

    def __init__(self, reports: Path) -> None:
        self.user_properties: list[tuple[str, Any]] = []
        self.config = self

    def getoption(self, _name: str) -> str:
        return str(self.reports)

    reports = Path(".")


def _no_data() -> Attempted:
    first = Outcome(ok=False, message="the answer came from release 1.3.0, not the pinned 1.4.0", kind="no-data",
                    curl="curl -sS http://127.0.0.1:1/v1/health")
    return Attempted(final=first, attempts=1, duration_ms=12.0, history=[first])


def test_every_producer_maps_a_no_data_attempt_alike(tmp_path: Path) -> None:
    profile = Profile.model_validate({"name": "p", "probe": {"unreachable": "down"}})
    tried = _no_data()
    smoke = result_of("health", tried)
    login = auth.login_result(tried)
    item = _Item(tmp_path)
    item.reports = tmp_path
    with pytest.raises(pytest.fail.Exception):
        Recorder(item).attempted("health", tried)  # type: ignore[arg-type]
    plugin = {k: v for key, fields in item.user_properties if key == RESULT_PROPERTY for k, v in fields.items()}
    for check in (smoke, login, CheckResult.model_validate({**plugin, "status": "failed", "message": "x"})):
        assert (check.status, check.kind, check.attempts) == ("failed", "no-data", 1)
        assert not check.is_evidence_failure  # no data is no evidence: inconclusive, never a failure
    assert login.message == "login failed: " + smoke.message
    for check in (smoke, login):
        # no data is unknown, whatever probe.unreachable says (auth used to call it down)
        result = probe_result(check, 0.0, profile)
        assert (result.status, result.outcome, result.kind) == ("failed", "unknown", "no-data")


def test_unreachable_follows_probe_unreachable_for_the_login_too(tmp_path: Path) -> None:
    url = "http://synthgate-result-contract.invalid"  # no name resolution: unreachable (as tests/self/test_probe.py)
    base: dict[str, Any] = {"name": "p", "defaults": {"retries": 0, "timeout_s": 2},
                            "auth": {"steps": [{"request": {"method": "POST", "path": "/login"}}]}}
    try:
        for setting, expected in (("ignore", "unknown"), ("down", "down")):
            profile = Profile.model_validate({**base, "probe": {"unreachable": setting}})
            (result,) = auth_job(profile, url, 60.0, tmp_path / setting).run()
            assert (result.status, result.kind, result.outcome) == ("failed", "unreachable", expected)
            check = preflight(profile, url)  # the gate's preflight: the same builder, the same kind
            assert check is not None and check.kind == "unreachable" and check.attempts == 1
            assert check.message.startswith(f"the runner could not reach the target at {url}: ")
            assert probe_result(check, 0.0, profile).outcome == expected
        # a refused connection is an answer of the host (kind error): down, for the login as for any check
        refused = f"http://127.0.0.1:{_closed_port()}"
        (result,) = auth_job(Profile.model_validate(base), refused, 60.0, tmp_path / "refused").run()
        assert (result.kind, result.outcome) == ("error", "down")
    finally:
        auth.end()


def test_the_details_other_modules_read_have_typed_accessors() -> None:
    # as the writers write them: hygiene's findings, a load threshold's task and figure, axe-core's failing rules
    check = CheckResult(id="load.p95[GET /]", status="failed", details={
        "findings": ["nosniff GET /"], "task": "GET /", "measured": 812, "a11y_failing": [{"rule": "label"}, {}]})
    assert check.findings == ["nosniff GET /"] and check.load_task == "GET /" and check.measured == 812.0
    assert check.a11y_rules_failing == ["label"] and not check.unmeasurable
    bare = CheckResult(id="x", status="passed", details={"measured": True, "findings": "not a list"})
    assert bare.findings == [] and bare.load_task is None and bare.measured is None and bare.a11y_rules_failing == []
