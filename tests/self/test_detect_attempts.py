"""Attempts kept apart: a failed check says why its first attempt failed; every attempt is in the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from detect_server import Script, serve
from verdicts import read_verdict

from synthgate.checks import registry
from synthgate.checks.outcome import Outcome, run_with_retries
from synthgate.gate import GateOptions, run_gate
from synthgate.profile.model import Check, Profile


def test_first_failing_attempt_gives_the_message() -> None:
    outcomes = iter([Outcome(ok=False, message="connection reset", kind="error", retryable=True),
                     Outcome(ok=False, message="step 1: status 409, expected 200", kind="assertion")])
    tried = run_with_retries(lambda: next(outcomes), retries=3, backoff_s=0)
    assert tried.attempts == 2  # the answer (409) is evidence: no third attempt
    assert tried.message.startswith("connection reset")
    assert "the last attempt: step 1: status 409" in tried.message
    detail = tried.attempts_detail()
    assert [a.message for a in detail] == ["connection reset", "step 1: status 409, expected 200"]
    assert [a.ok for a in detail] == [False, False]


def test_multi_step_checks_declare_whether_a_retry_may_rerun_them() -> None:
    write = {"id": "w", "steps": [{"request": {"method": "POST", "path": "/a"}}, {"request": {"path": "/b"}}]}
    read = {"id": "r", "steps": [{"request": {"path": "/a"}}, {"request": {"path": "/b"}}]}
    assert Check.model_validate(write).retry_policy == "never"  # a write changed state: re-running misleads
    assert Check.model_validate(read).retry_policy == "from_start"
    assert Check.model_validate({**write, "retry": "from_start"}).retry_policy == "from_start"
    profile = Profile.model_validate({"name": "p", "defaults": {"retries": 2}, "security": {"enabled": False},
                                      "checks": [write, read, {**write, "id": "w2", "retry": "from_start"}]})
    retries = {c.id: c.retries for c in registry.checks(profile, probed=True) if c.kind == "check"}
    assert retries == {"w": 0, "r": 2, "w2": 2}


def test_attempts_reach_verdict_json_and_the_summary(tmp_path: Path) -> None:
    script = Script()
    # first attempt: the connection drops after the password changed; the retry then meets the changed state
    script.answers.update({"/health": [(200, {"status": "ok"})],
                           "/password": [None, (409, {"error": "password already changed"})]})
    profile = {"name": "detect-attempts", "health": {"path": "/health"}, "security": {"enabled": False},
               "defaults": {"retries": 2, "backoff_s": 0.05}, "baseline": {"enabled": False},
               "checks": [{"id": "change-password", "request": {"method": "POST", "path": "/password"},
                           "expect": {"status": 200}}]}
    (tmp_path / "p.yaml").write_text(json.dumps(profile))
    with serve(script) as url:
        run_gate(GateOptions(profile=str(tmp_path / "p.yaml"), base_url=url, stages=["smoke"],
                             reports_dir=tmp_path / "r", progress=lambda _: None, baseline="none", no_rollback=True))
    verdict: dict[str, Any] = read_verdict(tmp_path / "r")
    check = next(c for s in verdict["stages"] for c in s["checks"] if c["id"] == "change-password")
    assert check["status"] == "failed" and check["attempts"] == 2
    assert check["message"].startswith("RemoteProtocolError") or "disconnected" in check["message"].lower()
    detail = check["attempts_detail"]
    assert [a["status"] for a in detail] == [None, 409]
    assert "409" in detail[1]["message"]
    summary = (tmp_path / "r" / "summary.md").read_text()
    assert "attempt 2" in summary and "409" in summary
    html = (tmp_path / "r" / "report.html").read_text()
    assert '<ol class="attempts">' in html and "password already changed" not in check["message"]
