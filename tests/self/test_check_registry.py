"""One registry of check kinds (synthgate/checks/registry.py): every kind's fixture has its test in the bundled smoke
suite, the plugin parametrises exactly the registry's checks, and the smoke stage's planned list is every check it
may run, so a stage cut short by its budget marks its readiness and cold-start checks timed out too."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import hostile_server as hs
import yaml

from synthgate.checks import registry
from synthgate.profile import load_profile
from synthgate.stages import StageContext, stage_runner
from synthgate.stages.pytest_suite import suite_dir


def _test_fixtures() -> dict[str, set[str]]:
    """Bundled smoke test function -> the fixtures it asks for."""
    out: dict[str, set[str]] = {}
    for file in sorted(suite_dir("smoke").glob("test_*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                out[f"{file.name}::{node.name}"] = {a.arg for a in node.args.args}
    return out


def test_every_kind_has_one_test_in_the_smoke_suite_and_one_fixture() -> None:
    tests = _test_fixtures()
    fixtures = [kind.fixture for kind in registry.KINDS]
    assert len(set(fixtures)) == len(fixtures) and len(registry.BY_NAME) == len(registry.KINDS)
    for kind in registry.KINDS:
        using = [name for name, args in tests.items() if kind.fixture in args]
        assert len(using) == 1, f"{kind.name}: fixture {kind.fixture} is asked for by {using or 'no test'}"
    # and no bundled test is parametrised by a check fixture the registry does not declare
    for name, args in tests.items():
        stray = {a for a in args if a.endswith(("_check", "_endpoint", "_page"))} - set(fixtures)
        assert not stray, f"{name} asks for {stray}: declare the kind in synthgate/checks/registry.py"


def test_kinds_plan_their_own_checks_and_probes_run_only_the_probed_kinds() -> None:
    profile, _ = load_profile("demo")
    planned = registry.plan(profile)
    ids = [p.id for p in planned]
    assert len(ids) == len(set(ids)), "one id per planned check"
    for p in planned:
        if hasattr(p.check, "kind"):  # a SmokeCheck names its kind: the registry's entry that planned it
            assert p.check.kind == p.kind.name, p.id
    probed = {p.kind.name for p in registry.plan(profile, probed=True)}
    assert probed == {k.name for k in registry.KINDS if k.probed} == {"health", "route", "check", "page", "cors"}
    # every cold-start check is an endpoint some kind with a cold sample touches
    sources = {s for e in registry.cold_endpoints(profile) for s in e.sources}
    assert sources and sources <= set(ids)


PROFILE = {
    "name": "registry-timeout",
    "defaults": {"timeout_s": 8, "retries": 0, "backoff_s": 0},
    "health": {"path": "/health", "expect": {"status": 200}},
    "pages": [{"id": "home", "path": "/", "expect": {"text": "hello"}}],
    "security": {"enabled": False},
}


def test_a_tiny_stage_budget_marks_readiness_and_cold_checks_timed_out(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(PROFILE), encoding="utf-8")
    profile, _ = load_profile(str(path))
    planned = registry.plan(profile, "http://127.0.0.1:1")
    kinds = {p.kind.name for p in planned}
    assert {"hygiene", "links", "cold-start"} <= kinds, kinds
    # every request hangs past the stage's budget (the child never gets an answer): no check can finish
    with hs.serve(hs.hang_after_headers) as port:
        ctx = StageContext(profile=profile, profile_path=path, base_url=f"http://127.0.0.1:{port}",
                           reports_dir=tmp_path / "reports", progress=lambda _text: None,
                           deadline=time.monotonic() + 4.0)
        stage = stage_runner("smoke")(ctx)
    results = {c.id: c for c in stage.checks}
    assert results["smoke.time-limit"].status == "failed", results
    for p in planned:
        got = results.get(p.id)
        assert got is not None, f"{p.id} ({p.kind.name}) has no result after the timeout"
        assert got.status == "failed" and got.message.startswith("timed out"), (p.id, got.message)
