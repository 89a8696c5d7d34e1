"""Contract drift and unverifiable answers, against the real demo target over loopback (what the real apps taught:
ColdCopy sends camelCase where its runbook's words read snake_case, ManuScript answers 400 where its runbook says 401,
and an app that cannot reach its AI provider answers 500 on a closed network)."""

from __future__ import annotations

from pathlib import Path

import pytest
from verdicts import read_verdict

from synthgate.checks import contract, registry, smoke
from synthgate.profile import load_profile

UNREACHABLE_HOST = "ai-provider.synthgate.invalid"  # .invalid never resolves (RFC 2606)


def test_naming_conventions() -> None:
    assert contract.snake("generationsUsed") == "generations_used"
    assert contract.camel("max_generations") == "maxGenerations"
    assert contract.renamed_field({"generationsUsed": 0}, "generations_used") == "generationsUsed"
    assert contract.renamed_field({"a": {"max_generations": 1}}, "a.maxGenerations") == "max_generations"
    assert contract.renamed_field({"generations": 0}, "generations_used") is None


def _profile(tmp_path: Path, url: str, checks: str) -> Path:
    path = tmp_path / "drift.yaml"
    path.write_text(f"name: drift\nbase_url: {url}\ndefaults: {{retries: 0}}\nsecurity: {{enabled: false}}\n"
                    f"checks:\n{checks}", encoding="utf-8")
    return path


CHECKS = f"""\
  - id: session-camel-case
    request: {{method: GET, path: /api/session}}
    expect: {{status: 200, json_types: {{generationsUsed: integer, maxGenerations: integer}}}}
  - id: login-status-drift
    request: {{method: POST, path: /auth/login, json: {{email: a@b.co, password: wrong}}}}
    expect:
      status: 403
      drift: [{{status: [401], note: "the app refuses with 401 (auth.py:12)"}}]
  - id: drift-and-defect
    request: {{method: GET, path: /api/session}}
    expect: {{status: 200, json_types: {{generationsUsed: integer}}, json: {{plan: enterprise}}}}
  - id: needs-ai-provider
    request: {{method: POST, path: /auth/login, json: {{email: a@b.co, password: wrong}}}}
    expect:
      status: 200
      unverifiable: [{{status: [401], needs_hosts: [{UNREACHABLE_HOST}], reason: "needs the AI provider"}}]
"""


def _run(profile_path: Path, url: str):
    profile, _ = load_profile(str(profile_path))
    return {c.id: smoke.execute(c, profile, url).final for c in registry.checks(profile, probed=True)}


def test_drift_fails_and_says_so_unverifiable_is_no_data(demo_target, tmp_path) -> None:
    out = _run(_profile(tmp_path, demo_target.url, CHECKS), demo_target.url)
    camel = out["session-camel-case"]
    assert not camel.ok and camel.kind == "assertion" and camel.contract_drift is True
    assert camel.message.startswith("contract drift:") and "generations_used" in camel.message
    status = out["login-status-drift"]
    assert not status.ok and status.contract_drift is True
    assert "status 401, expected 403" in status.message and "auth.py:12" in status.message
    mixed = out["drift-and-defect"]  # a real defect is never re-labelled as drift
    assert not mixed.ok and not mixed.message.startswith("contract drift") and "plan" in mixed.message
    assert not mixed.contract_drift and "also contract drift" in mixed.message
    nodata = out["needs-ai-provider"]
    assert not nodata.ok and nodata.kind == "no-data" and nodata.unverifiable is True
    assert nodata.message.startswith("not verified here:") and UNREACHABLE_HOST in nodata.message


def test_unverifiable_is_evidence_when_the_outside_host_is_reachable(demo_target, tmp_path) -> None:
    """Where the runner reaches the named host, the app could too: its answer counts like any other."""
    host = demo_target.url.split("//", 1)[1].rstrip("/")
    checks = CHECKS.split("  - id: needs-ai-provider")[1].replace(UNREACHABLE_HOST, host)
    out = _run(_profile(tmp_path, demo_target.url, "  - id: needs-ai-provider" + checks), demo_target.url)
    final = out["needs-ai-provider"]
    assert not final.ok and final.kind == "assertion" and not final.unverifiable
    assert "status 401, expected 200" in final.message


def test_gate_reports_drift_apart_and_no_data_is_inconclusive(demo_target, tmp_path, cli) -> None:
    profile = _profile(tmp_path, demo_target.url, CHECKS)
    reports = tmp_path / "r"
    proc = cli("run", "--profile", str(profile), "--stages", "smoke", "--no-rollback", "--baseline", "none",
               "--reports", str(reports))
    assert proc.returncode == 1, proc.stdout + proc.stderr  # drift is a real difference: it fails the gate
    checks = {c["id"]: c for s in read_verdict(reports)["stages"] for c in s["checks"]}
    assert checks["session-camel-case"]["contract_drift"] is True
    assert checks["needs-ai-provider"]["kind"] == "no-data"
    summary = (reports / "summary.md").read_text(encoding="utf-8")
    drift_part = summary.split("## Contract drift", 1)[1].split("\n## ", 1)[0]
    assert "session-camel-case" in drift_part and "login-status-drift" in drift_part
    assert "drift-and-defect" not in drift_part
    assert "needs-ai-provider" in summary.split("## Not verified here", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("checks", [CHECKS.split("  - id: needs-ai-provider")[1]])
def test_only_unverifiable_answers_make_the_gate_inconclusive(demo_target, tmp_path, cli, checks) -> None:
    profile = _profile(tmp_path, demo_target.url, "  - id: needs-ai-provider" + checks)
    proc = cli("run", "--profile", str(profile), "--stages", "smoke", "--no-rollback", "--baseline", "none",
               "--reports", str(tmp_path / "r"))
    verdict = read_verdict(tmp_path / "r")
    assert proc.returncode == 4 and verdict["verdict"] == "inconclusive", proc.stdout + proc.stderr


@pytest.mark.parametrize(("fault", "stage", "check_id", "drift"), [
    ("fields-renamed", "smoke", "one-free-generation-per-session", True),
    ("toggle-not-saved", "e2e", "toggle.stores-language-zh", False),
])
def test_demo_faults_the_real_apps_taught(tmp_path, cli, fault, stage, check_id, drift) -> None:
    """ColdCopy's camelCase fields and SixDegrees' intake toggle that forgets the choice, as demo releases."""
    reports = tmp_path / "r"
    proc = cli("run", "--demo-fault", fault, "--stages", stage, "--no-rollback", "--baseline", "none",
               "--reports", str(reports))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    checks = {c["id"]: c for s in read_verdict(reports)["stages"] for c in s["checks"]}
    assert checks[check_id]["status"] == "failed", checks[check_id]
    assert checks[check_id]["contract_drift"] is drift
    if drift:
        assert "generations_used is sent as generationsUsed" in checks[check_id]["message"]
