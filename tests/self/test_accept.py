"""Accepted defects: `accept:` entries set a failure aside until their date, in gates, probes and every report."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from synthgate.accept import Acceptances
from synthgate.checks import registry
from synthgate.demo.server import EmbeddedTarget
from synthgate.gate import GateOptions, run_gate
from synthgate.probe.jobs import smoke_result
from synthgate.profile import ProfileError, load_profile
from synthgate.profile.accept import Acceptance
from synthgate.profile.model import Profile
from synthgate.reports import ci
from synthgate.results import CheckResult

TODAY = dt.date(2026, 6, 1)
DEFECT = "manuscripts-require-auth"  # what the demo's auth-open fault breaks


def _entry(check: str, until: dt.date, message: str | None = None) -> Acceptance:
    return Acceptance(check=check, reason="TICKET-42", until=until, message=message)


def _failed(cid: str, message: str = "status 200, expected 401", kind: str = "assertion") -> CheckResult:
    return CheckResult(id=cid, status="failed", kind=kind, message=message)  # type: ignore[arg-type]


def test_one_judge_for_every_stage_glob_message_and_date() -> None:
    acc = Acceptances([_entry("fuzz.post-v1-items*", TODAY, message="status 500"),
                       _entry("load.p95*", TODAY - dt.timedelta(days=1)),
                       _entry("never-fails", TODAY)], today=TODAY)
    fuzz = _failed("fuzz.post-v1-items", "property not_5xx broken: status 500 on a body nested 5000 deep")
    other_fuzz = _failed("fuzz.post-v1-items", "property schema broken: missing field id")
    load = _failed("load.p95[GET /v1/health]", "P95 812 ms > limit 500 ms")
    unreachable = _failed("fuzz.get-v1-items", "status 500", kind="unreachable")
    assert acc.judge(fuzz) is not None and fuzz.status == "accepted"  # until today, inclusive
    assert fuzz.details["accepted"] == {"check": "fuzz.post-v1-items*", "reason": "TICKET-42", "until": "2026-06-01"}
    assert acc.judge(other_fuzz) is None and other_fuzz.status == "failed"  # the message pattern does not match
    assert "expired" in (acc.judge(load) or "") and load.status == "failed"
    assert load.message.startswith("acceptance expired on 2026-05-31 (TICKET-42): P95 812 ms")
    assert acc.judge(unreachable) is None and unreachable.status == "failed"  # only evidence is ever accepted
    assert [e.check for e in acc.stale()] == ["never-fails"]


def test_accept_entries_are_validated_with_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("name: x\naccept:\n  - check: health\n    reason: TICKET-1\n")
    with pytest.raises(ProfileError, match=r"accept.*until"):
        load_profile(str(bad))
    bad.write_text("name: x\naccept:\n  - {check: health, reason: ' ', until: 2030-01-01}\n")
    with pytest.raises(ProfileError, match="reason"):
        load_profile(str(bad))


@pytest.fixture(scope="module")
def auth_open() -> Iterator[EmbeddedTarget]:
    """The demo target with one real defect: its manuscripts are readable without a login."""
    with EmbeddedTarget(fault="auth-open") as target:
        yield target


def _profile(tmp_path: Path, until: dt.date, name: str = "accepted") -> Path:
    data = yaml.safe_load(Path("targets/demo.yaml").read_text())
    data.pop("embedded_demo", None)
    data["name"] = name
    data["accept"] = [{"check": DEFECT, "reason": "TICKET-42 open read", "until": until.isoformat()},
                      {"check": "cors-*", "reason": "TICKET-7 fixed already", "until": until.isoformat()}]
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_accepted_defect_passes_the_gate_in_every_report(auth_open: EmbeddedTarget, tmp_path: Path) -> None:
    lines: list[str] = []
    until = dt.date.today() + dt.timedelta(days=30)
    reports = tmp_path / "r"
    verdict = run_gate(GateOptions(profile=str(_profile(tmp_path, until)), base_url=auth_open.url, stages=["smoke"],
                                   reports_dir=reports, progress=lines.append, baseline="none"))
    assert (verdict.verdict, verdict.exit_code) == ("pass", 0), verdict.reason
    saved = json.loads((reports / "verdict.json").read_text())
    [status] = [c["status"] for s in saved["stages"] for c in s["checks"] if c["id"] == DEFECT]
    assert status == "accepted"
    assert [e["check"] for e in saved["stale_acceptances"]] == ["cors-*"]
    assert any(line.strip().startswith(f"accepted {DEFECT}") for line in lines)
    assert any("stale acceptance: cors-*" in line for line in lines)
    summary = (reports / "summary.md").read_text()
    assert "## Accepted defects (1;" in summary and "TICKET-42 open read" in summary
    assert "## Stale acceptances" in summary and f"| `{DEFECT}` | accepted |" in summary
    [case] = [c for c in ET.parse(reports / "junit.xml").getroot().iter("testcase") if c.get("name") == DEFECT]
    assert case.find("skipped") is not None and "accepted until" in case.find("skipped").get("message", "")
    assert "Accepted defects (1)" in (reports / "report.html").read_text()
    notes = [line for line in ci.annotations(verdict) if line.startswith("::notice")]
    assert any(f"{DEFECT} accepted" in line for line in notes)


def test_expired_acceptance_fails_again_and_says_so(auth_open: EmbeddedTarget, tmp_path: Path) -> None:
    lines: list[str] = []
    reports = tmp_path / "r"
    until = dt.date.today() - dt.timedelta(days=1)
    verdict = run_gate(GateOptions(profile=str(_profile(tmp_path, until)), base_url=auth_open.url, stages=["smoke"],
                                   reports_dir=reports, progress=lines.append, baseline="none", no_rollback=True))
    assert (verdict.verdict, verdict.exit_code) == ("fail", 1)
    assert [c.id for _, c in verdict.failed_checks()] == [DEFECT]
    assert any("acceptance expired" in line for line in lines)
    assert "## Expired acceptances" in (reports / "summary.md").read_text()


def test_probe_counts_an_accepted_failure_as_up(auth_open: EmbeddedTarget) -> None:
    data = yaml.safe_load(Path("targets/demo.yaml").read_text())
    data.pop("embedded_demo", None)
    profile = Profile.model_validate(data)
    [check] = [c for c in registry.checks(profile, probed=True) if c.id == DEFECT]
    assert smoke_result(check, profile, auth_open.url).outcome == "down"
    profile.accept = [_entry(DEFECT, dt.date.today())]
    result = smoke_result(check, profile, auth_open.url)
    assert (result.outcome, result.kind) == ("up", "accepted") and "accepted until" in result.message
    profile.accept = [_entry(DEFECT, dt.date.today() - dt.timedelta(days=1))]
    result = smoke_result(check, profile, auth_open.url)
    assert result.outcome == "down" and "acceptance expired" in result.message
