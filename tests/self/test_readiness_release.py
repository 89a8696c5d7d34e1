"""Release readiness: the gate waits for the new release to be live before any stage judges it."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
import yaml
from verdicts import read_verdict

from synthgate.demo import embedded, releases
from synthgate.demo.server import EmbeddedTarget
from synthgate.gate import GateOptions, run_gate
from synthgate.profile import ProfileError, bundled_dir
from synthgate.profile.model import Profile
from synthgate.readiness import release


def _profile(**cfg: object) -> Profile:
    return Profile.model_validate({"name": "t", "health": {"path": "/v1/health"}, "release": cfg})


def _demo_profile(tmp_path: Path, **cfg: object) -> Path:
    demo = yaml.safe_load((bundled_dir() / "demo.yaml").read_text())
    demo["release"].update(cfg)
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(demo))
    return path


def test_markers_from_health_header_and_page() -> None:
    health = httpx.Response(200, json={"build": {"sha": "abc1234def"}})
    assert release.marker_of(_profile(field="build.sha"), health, "x") == "abc1234def"
    header = httpx.Response(200, headers={"X-Release": "v2"})
    assert release.marker_of(_profile(source="header", header="X-Release"), header, "v2") == "v2"
    page = httpx.Response(200, text='<script src="/assets/app.3f9a1c.js"></script>')
    assert release.marker_of(_profile(source="page", pattern=r"app\.([0-9a-f]+)\.js"), page, "x") == "3f9a1c"
    assert release.marker_of(_profile(source="page"), page, "3f9a1c") == "3f9a1c"
    assert release.marker_of(_profile(source="page"), page, "ffffff") is None


def test_matching_and_where_the_expected_value_comes_from(monkeypatch) -> None:
    full = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
    assert release.matches(full[:7], full) and release.matches(full, full[:12])
    assert not release.matches("4b825d", full)  # too short to name a commit
    assert not release.matches(None, "1.0")
    profile = _profile(expect_env="SG_TEST_SHA")
    monkeypatch.setenv("SG_TEST_SHA", full)
    assert release.expected_release(None, profile) == (full, "$SG_TEST_SHA")
    assert release.expected_release("9.9", profile) == ("9.9", "--expect-release")
    monkeypatch.delenv("SG_TEST_SHA")
    assert release.expected_release(None, profile, "1.4.0") == ("1.4.0", "the embedded target's release")
    assert release.expected_release(None, profile) == ("", "")


def test_an_expected_release_set_but_empty_is_a_usage_error(cli, tmp_path: Path, monkeypatch) -> None:
    # an unset CI variable must not turn into "no wait": the gate would judge the old release
    proc = cli("run", "--stages", "smoke", "--expect-release", "", "--reports", str(tmp_path / "r"), timeout=60)
    assert proc.returncode == 2 and "--expect-release: set but empty" in proc.stderr, proc.stderr
    assert "internal error" not in proc.stderr and not (tmp_path / "r" / "verdict.json").exists()
    monkeypatch.setenv("SG_TEST_SHA", " ")
    with pytest.raises(ProfileError, match=r"\$SG_TEST_SHA: set but empty"):
        release.expected_release(None, _profile(expect_env="SG_TEST_SHA"))


def test_a_release_that_never_goes_live_is_inconclusive_and_not_rolled_back(cli, tmp_path: Path) -> None:
    profile = _demo_profile(tmp_path, wait_s=1.5, interval_s=0.25)
    proc = cli("run", "--profile", str(profile), "--stages", "smoke", "--expect-release", "9.9.9-never",
               "--reports", str(tmp_path / "r"))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    verdict = read_verdict(tmp_path / "r")
    assert verdict["verdict"] == "inconclusive" and verdict["rollback"]["triggered"] is False
    wait = verdict["release_wait"]
    assert wait["live"] is False and wait["expected"] == "9.9.9-never" and wait["last_seen"] == "1.4.0"
    assert 1.0 <= wait["waited_s"] < 5
    assert "the new release did not go live within 1.5 s" in verdict["reason"]
    summary = (tmp_path / "r" / "summary.md").read_text()
    assert "- release wait: the new release did not go live within 1.5 s" in summary
    assert '<property name="release_wait_s"' in (tmp_path / "r" / "junit.xml").read_text()
    assert "release wait" in (tmp_path / "r" / "report.html").read_text()


def test_release_not_live_fault_keeps_the_old_version_and_the_gate_waits(tmp_path: Path) -> None:
    profile = _demo_profile(tmp_path, wait_s=2, interval_s=0.25)
    verdict = run_gate(GateOptions(profile=str(profile), stages=["smoke"],
                                   open_target=embedded.opener(None, "release-not-live"),
                                   reports_dir=tmp_path / "r", baseline="none", progress=lambda _: None))
    assert verdict.verdict == "inconclusive" and verdict.exit_code == 4
    assert verdict.release_wait is not None and verdict.release_wait.last_seen == releases.HEALTHY_VERSION
    assert [c.id for _, c in verdict.failed_checks()] == ["release-live"]
    assert verdict.rollback.triggered is False  # the demo profile rolls back on `fail` only


def test_the_gate_judges_the_new_release_once_it_is_live(tmp_path: Path) -> None:
    profile = _demo_profile(tmp_path, wait_s=15, interval_s=0.2, consecutive=3)
    with EmbeddedTarget() as target:
        # the deploy lands a second after the gate starts: without the wait, the old (healthy) release passes
        timer = threading.Timer(1.0, releases.deploy, (target.state_path, "missing-nosniff"))
        timer.start()
        try:
            verdict = run_gate(GateOptions(profile=str(profile), base_url=target.url, stages=["smoke"],
                                           expect_release="1.4.1-missing-nosniff", reports_dir=tmp_path / "r",
                                           no_rollback=True, baseline="none", progress=lambda _: None))
        finally:
            timer.cancel()
    wait = verdict.release_wait
    assert wait is not None and wait.live and wait.waited_s >= 0.8 and wait.polls >= 4
    assert verdict.verdict == "fail" and [c.id for _, c in verdict.failed_checks()] == ["hygiene:nosniff"]
    assert "- release wait: release 1.4.1-missing-nosniff live after" in (tmp_path / "r" / "summary.md").read_text()
