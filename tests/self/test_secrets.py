"""A secret set through the environment appears in no report file and nowhere on the console."""

from __future__ import annotations

from pathlib import Path

import yaml

SECRET = "sg-test-secret-8c1f2e9a77d04b"


def test_secret_never_reaches_reports_or_console(tmp_path: Path, cli) -> None:
    data = yaml.safe_load(Path("targets/demo.yaml").read_text())
    data["secrets"] = {"api_token": {"env": "DEMO_API_TOKEN", "required": True}}
    data["headers"]["Authorization"] = "Bearer ${secrets.api_token}"
    data["checks"].append({"id": "secret-in-body-and-header", "request": {
        "method": "POST", "path": "/auth/login",
        "json": {"email": "x@synthgate.dev", "password": "${secrets.api_token}"}},
        "expect": {"status": 401}})  # unknown credentials: what a healthy release answers, so the rollback verifies
    profile = tmp_path / "secret.yaml"
    profile.write_text(yaml.safe_dump(data))
    reports = tmp_path / "reports"
    proc = cli("run", "--profile", str(profile), "--stages", "smoke", "--demo-fault", "leak-stacktrace",
               "--reports", str(reports), env={"DEMO_API_TOKEN": SECRET})
    assert proc.returncode == 1, proc.stdout + proc.stderr  # failed, rolled back and verified (3: the rollback failed)
    assert SECRET not in proc.stdout and SECRET not in proc.stderr
    files = [p for p in reports.rglob("*") if p.is_file()]
    assert len(files) > 10
    leaked = [str(p) for p in files if SECRET.encode() in p.read_bytes()]
    assert leaked == []
    summary = (reports / "summary.md").read_text()
    assert "secret-in-body-and-header" in summary
    assert '"$DEMO_API_TOKEN"' in summary  # the curl repro references the variable instead


def test_missing_required_secret_is_a_usage_error(tmp_path: Path, cli) -> None:
    data = yaml.safe_load(Path("targets/demo.yaml").read_text())
    data["secrets"] = {"api_token": {"env": "DEMO_API_TOKEN_UNSET", "required": True}}
    profile = tmp_path / "secret.yaml"
    profile.write_text(yaml.safe_dump(data))
    proc = cli("run", "--profile", str(profile), "--stages", "smoke")
    assert proc.returncode == 2
    assert "DEMO_API_TOKEN_UNSET" in proc.stderr
