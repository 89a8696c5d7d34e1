"""The gate end to end against the embedded demo target: faults close it, health keeps it open."""

from __future__ import annotations

from pathlib import Path

import pytest
import soak
import yaml
from verdicts import failed_ids, read_verdict

from synthgate.demo import embedded
from synthgate.demo.server import EmbeddedTarget
from synthgate.gate import GateOptions, run_gate

SMOKE_FAULTS = {
    "missing-route": "route-exists:POST /api/generate",
    "health-500": "health",
    "health-stale": "health",
    "auth-open": "manuscripts-require-auth",
    "rate-limit-off": "one-free-generation-per-session",
    "page-404": "page:intake",
    "leak-stacktrace": "generate-rejects-bad-input",
}


def verdict_of(reports: Path) -> dict:
    return read_verdict(reports)


def _gate(tmp_path: Path, fault: str, profile: str = "demo") -> dict:
    """One in-process gate of the smoke stage against a fresh embedded demo carrying `fault`; its verdict.json."""
    verdict = run_gate(GateOptions(profile=profile, stages=["smoke"], reports_dir=tmp_path,
                                   open_target=embedded.opener(None, fault), progress=lambda _: None))
    data = verdict_of(tmp_path)
    assert data["exit_code"] == verdict.exit_code
    return data


@pytest.mark.parametrize("fault", sorted(SMOKE_FAULTS))
def test_smoke_fault_closes_gate_and_rollback_is_verified(fault: str, tmp_path: Path) -> None:
    verdict = _gate(tmp_path, fault)  # in-process: the CLI's exit codes are held by the tests below
    assert verdict["verdict"] == "fail" and verdict["exit_code"] == 1
    assert SMOKE_FAULTS[fault] in failed_ids(verdict)
    assert verdict["rollback"]["triggered"] is True
    assert verdict["rollback"]["exit_code"] == 0
    assert verdict["rollback"]["verified"] is True
    summary = (tmp_path / "summary.md").read_text()
    assert SMOKE_FAULTS[fault] in summary and "curl " in summary


def test_healthy_target_passes_gate_after_gate(tmp_path: Path) -> None:
    gates = soak.rounds(full=20, quick=3)
    outcomes = []
    with EmbeddedTarget() as target:
        for n in range(gates):
            opts = GateOptions(profile="demo", base_url=target.url, stages=["smoke"],
                               reports_dir=tmp_path / str(n), progress=lambda _: None, baseline="none")
            verdict = run_gate(opts)
            outcomes.append((verdict.verdict, [c.id for _, c in verdict.failed_checks()]))
    assert outcomes == [("pass", [])] * gates
    last = verdict_of(tmp_path / str(gates - 1))
    assert len(last["stages"][0]["checks"]) >= 15
    assert all(c["status"] == "passed" for c in last["stages"][0]["checks"])


def _demo_profile_with_rollback(tmp_path: Path, command: list[str]) -> Path:
    data = yaml.safe_load(Path("targets/demo.yaml").read_text())
    data["rollback"] = {"command": command, "timeout_s": 10, "on": ["fail"]}
    path = tmp_path / "demo-custom-rollback.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("command", [["false"], ["true"], ["sleep", "30"]], ids=["fails", "no-effect", "hangs"])
def test_rollback_that_fails_or_does_not_restore_health_exits_3(command: list[str], tmp_path: Path, cli) -> None:
    profile = _demo_profile_with_rollback(tmp_path, command)
    if command == ["false"]:  # through the CLI once: the process exits 3
        proc = cli("run", "--profile", str(profile), "--stages", "smoke", "--demo-fault", "health-500",
                   "--reports", str(tmp_path / "r"))
        assert proc.returncode == 3, proc.stdout + proc.stderr
        verdict = verdict_of(tmp_path / "r")
    else:
        verdict = _gate(tmp_path / "r", "health-500", str(profile))
    assert verdict["exit_code"] == 3
    assert verdict["rollback"]["triggered"] is True and verdict["rollback"]["verified"] is False
    if command == ["sleep", "30"]:
        assert "timed out" in verdict["rollback"]["message"]


def test_connection_refused_fails_fast_with_clear_message(tmp_path: Path, cli) -> None:
    proc = cli("run", "--base-url", "http://127.0.0.1:9", "--stages", "smoke", "--no-rollback",
               "--reports", str(tmp_path), timeout=60)
    assert proc.returncode == 1
    assert "refused" in proc.stdout
    assert "refused" in (tmp_path / "summary.md").read_text()
    assert verdict_of(tmp_path)["rollback"]["triggered"] is False


def test_unresolvable_host_is_inconclusive_exit_4(tmp_path: Path, cli) -> None:
    proc = cli("run", "--base-url", "http://synthgate-no-such-host.invalid", "--stages", "smoke,load",
               "--reports", str(tmp_path), timeout=60)
    verdict = verdict_of(tmp_path)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert verdict["verdict"] == "inconclusive"
    assert "could not reach the target" in (tmp_path / "summary.md").read_text()
    assert verdict["rollback"]["triggered"] is False  # inconclusive alone is no reason to roll back
    assert [s["status"] for s in verdict["stages"]] == ["failed", "skipped"]


def test_fail_fast_skips_later_stages(tmp_path: Path, cli) -> None:
    proc = cli("run", "--stages", "smoke,e2e,fuzz,load", "--demo-fault", "health-500", "--reports", str(tmp_path))
    verdict = verdict_of(tmp_path)
    assert proc.returncode == 1
    assert [(s["name"], s["status"]) for s in verdict["stages"]] == [
        ("smoke", "failed"), ("e2e", "skipped"), ("fuzz", "skipped"), ("load", "skipped"),
        ("server-errors", "failed")]  # health answered 500: the gate's 5xx budget (1 %) is spent too


def test_reports_are_all_written(tmp_path: Path, cli) -> None:
    proc = cli("run", "--stages", "smoke", "--demo-fault", "auth-open", "--reports", str(tmp_path))
    assert proc.returncode == 1
    for name in ("verdict.json", "summary.md", "junit.xml"):
        assert (tmp_path / name).stat().st_size > 0
    results = list((tmp_path / "allure-results").glob("*-result.json"))
    assert len(results) >= 15
    attachments = list((tmp_path / "allure-results").glob("*-attachment*"))
    assert attachments, "request/response attachments missing"
    verdict = verdict_of(tmp_path)
    for key in ("verdict", "exit_code", "target", "base_url", "started_at", "duration_s", "stages", "load",
                "rollback"):
        assert key in verdict
    check = verdict["stages"][0]["checks"][0]
    for key in ("id", "status", "message", "attempts", "duration_ms"):
        assert key in check
    failed = [c for c in verdict["stages"][0]["checks"] if c["status"] == "failed"][0]
    assert failed["attempts"] == 1  # the deployment answered (200 instead of 401): evidence, never retried away
