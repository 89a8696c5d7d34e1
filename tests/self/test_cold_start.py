"""Cold starts: each endpoint's first request in a run is judged by its own budget, apart from the warm ones.

`cold-start-slow` (every endpoint's first call takes 3 s) fails the gate through the cold-start checks and no warm
latency check; the health endpoint's cold sample is the gate's own preflight; the healthy target passes; and the
cold exchange never counts against a warm budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from verdicts import read_verdict

from synthgate.checks import cold, registry
from synthgate.checks.smoke import execute
from synthgate.demo.cold_a11y_faults import COLD_START_S
from synthgate.profile import load_profile

# a small embedded-demo profile: four endpoints, so the broken release costs 4 x 3 s, not the whole demo's
PROFILE = {
    "name": "cold", "embedded_demo": True,
    "defaults": {"timeout_s": 6, "retries": 0, "latency_budget_ms": 1000, "cold_budget_ms": 1500},
    "health": {"path": "/v1/health", "expect": {"status": 200}},
    "routes": [{"method": "POST", "path": "/api/generate"}],
    "pages": [{"id": "landing", "path": "/", "expect": {"text": "synthgate demo"}},
              {"id": "intake", "path": "/intake", "expect": {"text": "user_email"}, "cold_budget_ms": 5000}],
    "security": {"enabled": False},
}


def _profile(tmp_path: Path) -> Path:
    path = tmp_path / "cold.yaml"
    path.write_text(yaml.safe_dump(PROFILE), encoding="utf-8")
    return path


def _checks(reports: Path) -> dict[str, dict[str, Any]]:
    verdict = read_verdict(reports)
    return {c["id"]: c for s in verdict["stages"] for c in s["checks"]}


def test_plan_has_one_check_per_endpoint_with_a_safe_probe_and_its_budget(tmp_path: Path) -> None:
    profile, _ = load_profile(str(_profile(tmp_path)))
    endpoints = {e.path: e for e in registry.cold_endpoints(profile)}
    assert list(endpoints) == ["/v1/health", "/", "/intake", "/api/generate"]
    assert endpoints["/intake"].budget_ms == 5000 and endpoints["/"].budget_ms == 1500
    generate = endpoints["/api/generate"].probe
    assert generate is not None and generate.method == "POST" and generate.json_body == {}  # the route's invalid
    assert endpoints["/v1/health"].id == "cold-start:/v1/health"


def test_slow_first_calls_fail_the_gate_through_the_cold_checks_only(cli: Any, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = cli("run", "--profile", str(_profile(tmp_path)), "--demo-fault", "cold-start-slow", "--stages", "smoke",
                 "--no-rollback", "--reports", str(reports), timeout=240)
    assert result.returncode == 1, result.stdout + result.stderr
    checks = _checks(reports)
    failed = {cid for cid, c in checks.items() if c["status"] == "failed"}
    # /intake's own budget (5 s) covers a 3 s start: it passes; every other endpoint's start is over 1.5 s
    assert failed == {"cold-start:/v1/health", "cold-start:/", "cold-start:/api/generate"}, failed
    health = checks["cold-start:/v1/health"]
    assert health["details"]["by"] == "the gate itself, before the stages"  # preflight, release wait: not smoke
    assert health["details"]["cold_ms"] >= COLD_START_S * 1000 * 0.95
    assert "over the cold budget of 1500 ms" in health["message"]
    assert checks["cold-start:/intake"]["status"] == "passed"
    # the warm checks after them meet warm endpoints: no latency failure anywhere
    for cid in ("health", "page:landing", "page:intake", "route-exists:POST /api/generate"):
        assert checks[cid]["status"] == "passed", checks[cid]["message"]
    har = reports / health["evidence"][0]
    entries = json.loads(har.read_text(encoding="utf-8"))["log"]["entries"]
    assert entries[0]["_cold"] is True and entries[0]["time"] >= COLD_START_S * 1000 * 0.95


def test_healthy_target_passes_every_cold_check(cli: Any, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = cli("run", "--profile", str(_profile(tmp_path)), "--stages", "smoke", "--reports", str(reports))
    assert result.returncode == 0, result.stdout + result.stderr
    checks = _checks(reports)
    assert {cid for cid in checks if cid.startswith("cold-start:")} == {
        "cold-start:/v1/health", "cold-start:/", "cold-start:/intake", "cold-start:/api/generate"}
    assert all(c["status"] == "passed" for c in checks.values())
    samples = cold.read(reports / ".work" / "cold.jsonl")
    assert set(samples) == {"/v1/health", "/", "/intake", "/api/generate"}  # one first contact per endpoint


def test_a_cold_exchange_is_never_judged_by_the_warm_budget(tmp_path: Path) -> None:
    from synthgate.demo.server import EmbeddedTarget

    profile, _ = load_profile(str(_profile(tmp_path)))
    page = next(c for c in registry.checks(profile, probed=True) if c.id == "page:landing")
    with EmbeddedTarget(fault="cold-start-slow") as target:
        cold.begin(tmp_path, target.url)
        try:
            outcome = execute(page, profile, target.url).final  # its first request meets the 3 s cold start
            samples = cold.read()
        finally:
            cold.close()
    assert outcome.ok, outcome.message  # judged on a warm second request, not on the cold one
    assert samples["/"]["duration_ms"] >= COLD_START_S * 1000 * 0.95
    assert outcome.exchanges[-1].duration_ms < 1000
