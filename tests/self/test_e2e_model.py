"""The e2e stage without a browser: journey model and plan, browser discovery, trace scrubbing."""

from __future__ import annotations

import ast
import html
import inspect
import json
import os
import zipfile
from pathlib import Path
from urllib.parse import quote_plus

import pytest
import yaml

from synthgate.e2e import BrowserNotFound, discover, plan_all
from synthgate.e2e.browser import LAUNCH_ARGS
from synthgate.e2e.evidence import scrub_trace
from synthgate.e2e.steps import OPS, STEP_ACTIONS
from synthgate.profile import ProfileError, load_profile
from synthgate.profile.e2e import ACTIONS, EXPECTATIONS
from synthgate.redact import redactor

ROOT = Path(__file__).resolve().parents[2]


def _profile(tmp_path: Path, journeys: list[dict], **extra: object) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"name": "t", "base_url": "http://127.0.0.1:9", "journeys": journeys, **extra}))
    return path


def test_demo_plan_has_one_check_per_step_with_readable_ids() -> None:
    profile, _ = load_profile("demo")
    ids = [s.check_id for s in plan_all(profile)]
    assert len(ids) == len(set(ids))
    for expected in ("landing.loads", "landing.no-console-errors", "landing.no-uncaught-errors",
                     "landing.no-failed-requests", "landing.fcp-budget", "landing.lcp-budget", "landing.cls-budget",
                     "intake.fills-form", "intake.lands-on-dashboard", "intake.dashboard-shows-text",
                     "intake.invalid-shows-error", "intake.invalid-stays-on-page",
                     "toggle.switches-to-zh", "toggle.sets-html-lang-zh", "toggle.stores-language-zh",
                     "toggle.survives-reload", "toggle.toggles-back", "intake-old-address.redirects-to-intake"):
        assert expected in ids


def test_sixdegrees_journeys_describe_its_real_pages() -> None:
    path = ROOT / "targets" / "sixdegrees.yaml"
    if not path.exists() or "journeys:" not in path.read_text(encoding="utf-8"):
        path = ROOT / "targets" / "sixdegrees-journeys.snippet.yaml"
    profile, _ = load_profile(str(path))
    by_id = {j.id: j for j in profile.journeys}
    toggle = by_id["language-toggle"]
    assert toggle.kind == "toggle" and toggle.buttons == {"en": "#lang-en", "zh": "#lang-zh"}
    assert toggle.storage_key == "sixdegrees_language" and toggle.html_lang is False  # its pages never set it
    form = by_id["intake-form"]
    assert form.kind == "form"
    # the deployed form (public/intake.html), not the fields of its API
    assert set(form.fields) == {"#email", "#cv", "#target-name", "#target-role", "#motivation"}
    assert form.submit == '#intake-form button[type="submit"]'
    assert "dashboard" in form.destination.url and "campaign" in form.destination.url
    intake_toggle = by_id["intake-language-toggle"]
    assert intake_toggle.kind == "toggle" and intake_toggle.toggle == "#lang-toggle"
    assert intake_toggle.storage_key == toggle.storage_key  # the runbook: the choice is kept, on every page
    landing = by_id["landing"]
    assert landing.vitals is not None and (landing.vitals.fcp_ms, landing.vitals.lcp_ms) == (1000, 2500)


@pytest.mark.parametrize(("journey", "message"), [
    ({"id": "t", "kind": "toggle", "toggle": "#a", "buttons": {"en": "#e", "zh": "#z"}},
     "expected exactly one of 'toggle'"),
    ({"id": "t", "kind": "toggle", "buttons": {"en": "#e"}}, "one button per language"),
    ({"id": "t", "kind": "toggle", "toggle": "#a", "attribute": "data-lang"}, "containing {lang}"),
    ({"id": "s", "steps": [{"click": "#a", "fill": {"#b": "x"}}]}, "exactly one action or expectation"),
    ({"id": "s", "steps": [{"status": 200}]}, "exactly one action or expectation"),
    ({"id": "s", "steps": [{"goto": "intake"}]}, "starting with '/'"),
    ({"id": "f", "kind": "form", "path": "/f", "fields": {"#a": "x"}, "destination": {"url": "/d"}}, "submit"),
    ({"id": "f", "kind": "form", "path": "/f", "fields": {"#a": "x"}, "submit": "#s",
      "destination": {"url": "(unclosed"}}, "valid regular expression"),
    ({"id": "l", "kind": "landing", "vitals": {"fcp_ms": -1}}, "vitals.fcp_ms"),
    ({"id": "x", "kind": "carousel"}, "carousel"),
    ({"id": "with.dot", "kind": "landing"}, "journeys[0]"),
])
def test_bad_journeys_are_usage_errors_naming_the_field(tmp_path: Path, journey: dict, message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile(str(_profile(tmp_path, [journey])))
    text = str(caught.value)
    assert message in text and "journeys[0]" in text


def test_duplicate_journey_ids_are_refused_but_may_share_a_page_id(tmp_path: Path) -> None:
    landing = {"id": "landing", "kind": "landing"}
    with pytest.raises(ProfileError, match="unique journey ids"):
        load_profile(str(_profile(tmp_path, [landing, landing])))
    profile, _ = load_profile(str(_profile(tmp_path, [landing], pages=[{"id": "landing", "path": "/"}])))
    assert [s.check_id for s in plan_all(profile)][0] == "landing.loads"


def test_steps_journey_default_ids_and_failure_propagation(tmp_path: Path) -> None:
    profile, _ = load_profile(str(_profile(tmp_path, [{"id": "s", "steps": [
        {"goto": "/"}, {"expect_text": "Hi"}, {"id": "go", "click": "#go"}, {"expect_url": "/done"}]}])))
    steps = plan_all(profile)
    assert [s.check_id for s in steps] == ["s.01-goto", "s.02-expect-text", "s.go", "s.04-expect-url", "s.a11y"]
    assert [s.observe for s in steps] == [False, True, False, True, True]  # a11y: axe looks at the last page


def _fake_chromium(folder: Path, name: str = "chromium") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / name
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    return exe


def test_discovery_pointed_at_an_empty_path_fails_with_the_install_hint(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNTHGATE_CHROMIUM", raising=False)
    monkeypatch.setenv("SYNTHGATE_CHROMIUM_SEARCH_PATH", str(tmp_path))
    with pytest.raises(BrowserNotFound) as caught:
        discover()
    assert "apt-get install chromium" in str(caught.value) and "playwright install chromium" in str(caught.value)
    exe = _fake_chromium(tmp_path / "bin", "google-chrome")
    monkeypatch.setenv("SYNTHGATE_CHROMIUM_SEARCH_PATH", os.pathsep.join([str(tmp_path), str(exe.parent)]))
    choice = discover()
    assert choice.executable == str(exe)
    assert choice.launch_kwargs()["args"] == LAUNCH_ARGS and choice.launch_kwargs()["headless"] is True


def test_discovery_prefers_the_headless_shell_to_the_full_browser(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # synthgate always runs headless: the shell runs the same journeys on a third of the full browser's CPU
    monkeypatch.delenv("SYNTHGATE_CHROMIUM", raising=False)
    full = _fake_chromium(tmp_path / "a", "chromium")
    shell = _fake_chromium(tmp_path / "b", "chromium-headless-shell")
    monkeypatch.setenv("SYNTHGATE_CHROMIUM_SEARCH_PATH", os.pathsep.join([str(full.parent), str(shell.parent)]))
    assert discover().executable == str(shell)
    shell.unlink()
    assert discover().executable == str(full)


def test_explicit_chromium_must_be_executable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTHGATE_CHROMIUM", str(tmp_path / "nothing-here"))
    with pytest.raises(BrowserNotFound, match="SYNTHGATE_CHROMIUM=.*not an executable"):
        discover()
    exe = _fake_chromium(tmp_path)
    monkeypatch.setenv("SYNTHGATE_CHROMIUM", str(exe))
    assert discover().executable == str(exe)


def test_trace_scrub_removes_secrets_in_every_encoding_and_blanks_cookies(tmp_path: Path) -> None:
    secret = "s3cr3t/&\"pässword"
    redactor.add(secret, "SG_TEST_TRACE_SECRET")
    trace = tmp_path / "t.zip"
    action = {"type": "before", "method": "fill", "params": {"value": secret}}
    network = {"type": "resource-snapshot", "snapshot": {"request": {
        "headers": [{"name": "Cookie", "value": "session=abc123"}, {"name": "Accept", "value": "*/*"}],
        "cookies": [{"name": "session", "value": "abc123"}],
        "postData": {"text": "password=" + quote_plus(secret)}}}}
    with zipfile.ZipFile(trace, "w") as zf:
        zf.writestr("trace.trace", json.dumps(action) + "\n" + json.dumps(action, ensure_ascii=False) + "\n")
        zf.writestr("trace.network", json.dumps(network) + "\n")
        zf.writestr("resources/page.html", '<input value="' + html.escape(secret) + '">')
    scrub_trace(trace)
    with zipfile.ZipFile(trace) as zf:
        blob = b"".join(zf.read(n) for n in zf.namelist())
        network_after = json.loads(zf.read("trace.network").decode().splitlines()[0])
    for form in (secret, json.dumps(secret)[1:-1], "s3cr3t", "abc123"):
        assert form.encode() not in blob, form
    assert b"[REDACTED:SG_TEST_TRACE_SECRET]" in blob
    headers = network_after["snapshot"]["request"]["headers"]
    assert {"name": "Accept", "value": "*/*"} in headers


def test_every_planned_op_and_step_action_has_its_handler() -> None:
    """The plan's ops and a `steps` journey's actions each name a handler in the steps registries."""
    tree = ast.parse(Path(inspect.getfile(plan_all)).read_text(encoding="utf-8"))  # e2e/plan.py
    planned = {call.args[2].value for call in ast.walk(tree)
               if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "PlannedStep"
               and len(call.args) > 2 and isinstance(call.args[2], ast.Constant)}
    assert {"goto", "a11y", "xss_canary", "step", "switch_language"} <= planned
    assert planned <= set(OPS), planned - set(OPS)
    assert set(ACTIONS) | set(EXPECTATIONS) == set(STEP_ACTIONS)
