"""Accessibility: axe-core in a real Chromium finds no serious or critical violation on the healthy demo pages,
fails the unlabelled intake field of `a11y-violation` as `<journey>.a11y` with a HAR of the journey, and only
reports violations below the profile's `fail_on` impacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from synthgate.demo.server import EmbeddedTarget
from synthgate.e2e.a11y import axe_script, judge, run_options
from synthgate.e2e.runner import run_journeys
from synthgate.profile import load_profile
from synthgate.profile.a11y import A11yConfig


def _axe(page: Any, config: A11yConfig) -> dict[str, Any]:
    """axe-core's raw result for the page, injected the way the journey runner does it."""
    page.evaluate(axe_script())
    return page.evaluate("(options) => window.axe.run(document, options)", run_options(config))


@pytest.fixture(scope="module")
def broken_target() -> Any:
    with EmbeddedTarget(fault="a11y-violation") as target:
        yield target


def test_healthy_demo_pages_have_no_serious_or_critical_violation(chromium: Any, demo_target: Any) -> None:
    page = chromium.new_page()
    try:
        for path in ("/", "/intake", "/dashboard?campaign=camp_x"):
            page.goto(demo_target.url + path)
            scan = judge(_axe(page, A11yConfig()), A11yConfig(), page.url)
            assert scan.version, "axe-core did not run"
            assert scan.failing == [], f"{path}: {scan.message}"
    finally:
        page.close()


def test_a_field_without_a_label_is_a_critical_violation(chromium: Any, broken_target: Any) -> None:
    page = chromium.new_page()
    try:
        page.goto(broken_target.url + "/intake")
        scan = judge(_axe(page, A11yConfig()), A11yConfig(), page.url)
    finally:
        page.close()
    rules = {v.rule: v for v in scan.failing}
    assert "label" in rules, scan.message
    assert rules["label"].impact == "critical"
    assert rules["label"].targets == ["#target_company"]
    assert "label (critical)" in scan.message and "#target_company" in scan.message


def test_violations_below_fail_on_are_reported_not_failing(chromium: Any) -> None:
    page = chromium.new_page()
    try:  # light grey on white: color-contrast, a "serious" rule
        page.set_content('<html lang="en"><head><title>t</title></head><body><main><h1>Title</h1>'
                         '<p style="color:#ddd;background:#fff">faint text</p></main></body></html>')
        only_critical = A11yConfig(fail_on=["critical"])
        scan = judge(_axe(page, only_critical), only_critical, page.url)
        ignored = A11yConfig(ignore_rules=["color-contrast"])
        quiet = judge(_axe(page, ignored), ignored, page.url)
    finally:
        page.close()
    assert scan.failing == []
    assert [v.rule for v in scan.reported] == ["color-contrast"]
    assert "reported, not failing: color-contrast (serious)" in scan.message
    assert quiet.failing == [] and quiet.reported == []


def _profile(tmp_path: Path, journeys: list[dict[str, Any]]) -> Any:
    path = tmp_path / "a11y.yaml"
    path.write_text(yaml.safe_dump({"name": "a11y", "e2e": {"retries": 0}, "journeys": journeys}), encoding="utf-8")
    return load_profile(str(path))[0]


def test_the_journey_check_fails_with_a_har_and_opts_out(broken_target: Any, tmp_path: Path) -> None:
    profile = _profile(tmp_path, [
        {"id": "form", "kind": "landing", "path": "/intake", "vitals": None},
        {"id": "skipped", "kind": "landing", "path": "/intake", "vitals": None, "a11y": False},
    ])
    reports = tmp_path / "reports"
    run = run_journeys(profile, broken_target.url, reports)
    result = run.result("form.a11y")
    assert result.status == "failed" and result.kind == "assertion", result.message
    assert "label (critical)" in result.message
    assert result.details["a11y_failing"][0]["targets"] == ["#target_company"]
    assert "skipped.a11y" not in run.results  # a11y: false plans no check
    assert all(r.status == "passed" for cid, r in run.results.items() if cid != "form.a11y")
    assert "har/form.har" in result.evidence
    har = json.loads((reports / "har" / "form.har").read_text(encoding="utf-8"))
    assert any(e["request"]["url"].endswith("/intake") for e in har["log"]["entries"])
    assert not list((reports / "har").glob("skipped*"))  # a passing journey keeps no HAR
