"""The load stage against the embedded demo target: healthy passes, `slow` and `error-spike` fail by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthgate.profile import load_profile
from synthgate.profile.load import LoadConfig, LoadTask, LoadThresholds
from synthgate.results import StageResult
from synthgate.stages.base import StageContext
from synthgate.stages.load import run

server = pytest.importorskip("synthgate.demo.server")

LOAD = LoadConfig(
    tasks=[
        LoadTask(name="health", path="/v1/health", weight=3),
        LoadTask(name="session", path="/api/session", weight=1),
        LoadTask(name="landing", path="/", weight=1),
    ],
    users=10,
    duration_s=2.5,
    thresholds=LoadThresholds(p95_ms=500, error_rate=0.01),
)


def _run_stage(tmp_path: Path, fault: str | None) -> tuple[StageResult, list[str]]:
    profile, path = load_profile("demo")
    profile = profile.model_copy(update={"load": LOAD})
    lines: list[str] = []
    with server.EmbeddedTarget(fault=fault) as target:
        ctx = StageContext(
            profile=profile,
            profile_path=path,
            base_url=target.url,
            reports_dir=tmp_path / "reports",
            progress=lines.append,
        )
        return run(ctx), lines


def test_healthy_demo_passes(tmp_path: Path) -> None:
    stage, lines = _run_stage(tmp_path, None)
    checks = {c.id: c for c in stage.checks}
    assert stage.status == "passed", [c.message for c in stage.checks]
    aggregate = {cid for cid in checks if "[" not in cid}
    assert aggregate == {"load.p95", "load.error_rate"}  # plus each task's own (load.p95[NAME], ...)
    assert {cid for cid in checks if cid.startswith("load.p95[")} == {f"load.p95[{t.label}]" for t in LOAD.tasks}
    summary = stage.load
    assert summary is not None
    assert summary.requests > 100 and summary.p95_ms is not None and summary.p95_ms < 500
    assert summary.thresholds == {"p95_ms": 500.0, "error_rate": 0.01}
    assert set(summary.per_request) == {"health", "session", "landing"}
    assert summary.history and stage.histograms["health"]
    assert stage.samples_ms["health"]
    for name in ("locust_stats.csv", "locust_stats_history.csv", "report.html"):
        assert (tmp_path / "reports" / "load" / name).exists()
    assert any(line.startswith("load ") and "req/s" in line for line in lines)


def test_slow_release_fails_p95(tmp_path: Path) -> None:
    stage, _ = _run_stage(tmp_path, "slow")
    checks = {c.id: c for c in stage.checks}
    assert stage.status == "failed"
    p95 = checks["load.p95"]
    assert p95.status == "failed" and p95.kind == "assertion"
    assert p95.message.startswith("P95 ") and "> limit 500 ms" in p95.message
    assert p95.details["measured"] > 500 and p95.details["limit"] == 500
    assert "load/report.html" in p95.evidence


def test_error_spike_fails_error_rate(tmp_path: Path) -> None:
    stage, _ = _run_stage(tmp_path, "error-spike")
    rate = {c.id: c for c in stage.checks}["load.error_rate"]
    assert stage.status == "failed"
    assert rate.status == "failed" and rate.kind == "assertion"
    assert "> limit 1 %" in rate.message and "HTTP 500" in rate.message
    assert 0.02 < rate.details["measured"] < 0.10


def test_profile_without_load_skips_the_stage(tmp_path: Path) -> None:
    # the stage alone skips quietly; the gate makes it "no data" (inconclusive) only when --stages names it
    profile, path = load_profile("demo")
    profile = profile.model_copy(update={"load": None})
    ctx = StageContext(profile=profile, profile_path=path, base_url="http://127.0.0.1:9",
                       reports_dir=tmp_path)  # fmt: skip
    stage = run(ctx)
    assert stage.status == "skipped" and not stage.failed_checks
    assert "declares no load section" in (stage.message or "")
