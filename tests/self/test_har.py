"""HAR evidence: every failed check's exchanges (all attempts) as a HAR 1.2 file in reports/har/, linked from
verdict.json, summary.md and report.html, with no secret inside; a browser journey's HAR is kept only when it
failed, and is rewritten without secrets, Authorization headers or cookie values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from verdicts import read_verdict

from synthgate.redact import redactor
from synthgate.reports.har import browser_context_args, keep_browser_har

SECRET = "har-secret-7f3a91c2e5"


def _profile(tmp_path: Path) -> Path:
    path = tmp_path / "har.yaml"
    path.write_text(yaml.safe_dump({
        "name": "har", "embedded_demo": True,
        "secrets": {"token": {"env": "SYNTHGATE_HAR_TOKEN"}},
        "defaults": {"timeout_s": 5, "retries": 1, "backoff_s": 0.05},
        "health": {"path": "/v1/health", "expect": {"status": 200}},
        "checks": [{"id": "manuscripts-with-token", "request": {
            "method": "GET", "path": "/manuscripts", "params": {"key": "${secrets.token}"},
            "headers": {"Authorization": "Bearer ${secrets.token}", "X-Token": "${secrets.token}"}},
            "expect": {"status": 200}}],  # the token is not one the demo issued: 401, the check fails
        "security": {"enabled": False},
    }), encoding="utf-8")
    return path


def _every_byte(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_failed_http_check_has_a_redacted_har_of_every_attempt_linked_from_the_reports(cli: Any,
                                                                                        tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    stale = reports / "har" / "old-check.har"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}", encoding="utf-8")
    result = cli("run", "--profile", str(_profile(tmp_path)), "--stages", "smoke", "--no-rollback",
                 "--reports", str(reports), env={"SYNTHGATE_HAR_TOKEN": SECRET})
    assert result.returncode == 1, result.stdout + result.stderr
    verdict = read_verdict(reports)
    checks = {c["id"]: c for s in verdict["stages"] for c in s["checks"]}
    failed = checks["manuscripts-with-token"]
    assert failed["status"] == "failed"
    link = "har/manuscripts-with-token.har"
    assert link in failed["evidence"]
    har = json.loads((reports / link).read_text(encoding="utf-8"))
    log = har["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "synthgate"
    assert len(log["entries"]) == failed["attempts"] >= 1  # every attempt (only transport failures are retried)
    for entry in log["entries"]:
        assert entry["request"]["method"] == "GET" and entry["request"]["url"].split("?")[0].endswith("/manuscripts")
        assert entry["response"]["status"] == 401
        assert "unauthorized" in entry["response"]["content"]["text"]
        headers = {h["name"].lower(): h["value"] for h in entry["request"]["headers"]}
        assert headers["authorization"] == "[REDACTED]"
    assert not stale.exists()  # reports/har shows this run's failures only
    assert sorted(p.name for p in (reports / "har").iterdir()) == ["manuscripts-with-token.har"]  # passes: none
    assert f"({link})" in (reports / "summary.md").read_text(encoding="utf-8")
    assert link in (reports / "report.html").read_text(encoding="utf-8")
    assert SECRET.encode() not in _every_byte(reports)


def test_browser_har_is_kept_redacted_only_for_a_failed_journey(chromium: Any, demo_target: Any,
                                                               tmp_path: Path) -> None:
    redactor.add(SECRET, "SYNTHGATE_HAR_TOKEN")
    reports = tmp_path / "reports"
    raws = []
    for name in ("failed", "passed"):
        raw = tmp_path / ".work" / f"{name}.har"
        context = chromium.new_context(**browser_context_args(raw),
                                       extra_http_headers={"Authorization": f"Bearer {SECRET}"})
        context.add_cookies([{"name": "session", "value": SECRET, "url": demo_target.url}])
        page = context.new_page()
        page.goto(f"{demo_target.url}/intake?token={SECRET}")
        page.fill("#user_name", SECRET)
        page.click("#submit")  # posts the form (an invalid one: the demo answers 400)
        page.wait_for_timeout(300)
        context.close()
        raws.append(raw)
    assert keep_browser_har(raws[0], reports, "failed", keep=True) == "har/failed.har"
    assert keep_browser_har(raws[1], reports, "passed", keep=False) is None
    assert not raws[0].exists() and not raws[1].exists()  # the raw recordings never stay behind
    assert [p.name for p in (reports / "har").iterdir()] == ["failed.har"]
    data = (reports / "har" / "failed.har").read_bytes()
    assert SECRET.encode() not in data
    entries = json.loads(data)["log"]["entries"]
    assert any(e["request"]["url"].split("?")[0].endswith("/intake") for e in entries)
    assert any(e["request"]["method"] == "POST" and e["response"]["status"] == 400 for e in entries)
    for entry in entries:
        for cookie in entry["request"].get("cookies", []):
            assert cookie["value"] == "[REDACTED]"
