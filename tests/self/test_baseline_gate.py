"""Baseline comparison end to end: healthy runs (ten in a soak) raise no regression; a 25 ms slower release
fails on it alone."""

from __future__ import annotations

import json
from pathlib import Path

import soak
from verdicts import read_verdict

from synthgate.demo import releases
from synthgate.demo.server import EmbeddedTarget
from synthgate.gate import GateOptions, run_gate
from synthgate.stage_options import StageOptions


def test_healthy_runs_raise_no_regression_and_latency_regression_fails_on_comparison(tmp_path: Path) -> None:
    db = tmp_path / "history.db"

    def gate(n: int, **extra):
        opts = GateOptions(profile="demo", base_url=target.url, stages=["load"], reports_dir=tmp_path / str(n),
                           history_db=db, progress=lambda _: None, no_rollback=True,
                           stage_options=StageOptions(duration_s=2), **extra)
        return run_gate(opts)

    with EmbeddedTarget() as target:
        first = gate(0)
        assert first.verdict == "pass" and first.baseline is None  # no history yet
        healthy = [gate(n) for n in range(1, 1 + soak.rounds(full=10, quick=3))]  # ten in a soak run
        for verdict in healthy:
            assert verdict.baseline is not None
            decisions = [m.decision for m in verdict.baseline.metrics]
            assert decisions and set(decisions) == {"no regression"}, verdict.baseline.metrics
            assert verdict.verdict == "pass"
        releases.deploy(target.state_path, "latency-regression")
        slow = gate(99)
    assert slow.verdict == "fail" and slow.exit_code == 1
    failed = {(s, c.id) for s, c in slow.failed_checks()}
    assert failed and {s for s, _ in failed} == {"baseline"}  # the absolute thresholds all passed
    assert ("baseline", "latency:GET /v1/health") in failed
    assert ("baseline", "latency:GET /") not in failed  # pages are not slowed by this fault
    assert slow.load is not None and slow.load.p95_ms is not None and slow.load.p95_ms < 500
    summary = (tmp_path / "99" / "summary.md").read_text()
    assert summary.index("What changed since the baseline") < summary.index("## Stages")
    assert "the gate fails on the comparison alone" in summary
    saved = read_verdict(tmp_path / "99")
    assert saved["baseline"]["release"] == "1.4.0"
    assert "samples_ms" not in json.dumps(saved)  # raw samples live in load/samples.json
    assert (tmp_path / "99" / "load" / "samples.json").exists()


def test_baseline_from_a_saved_reports_dir(tmp_path: Path) -> None:
    with EmbeddedTarget() as target:
        base = GateOptions(profile="demo", base_url=target.url, stages=["load"], reports_dir=tmp_path / "base",
                           history_db=tmp_path / "h.db", progress=lambda _: None, baseline="none",
                           stage_options=StageOptions(duration_s=2))
        assert run_gate(base).verdict == "pass"
        releases.deploy(target.state_path, "latency-regression")
        again = GateOptions(profile="demo", base_url=target.url, stages=["load"], reports_dir=tmp_path / "new",
                            history_db=tmp_path / "other.db", progress=lambda _: None, no_rollback=True,
                            baseline=str(tmp_path / "base"), stage_options=StageOptions(duration_s=2))
        verdict = run_gate(again)
    assert verdict.verdict == "fail"
    assert verdict.baseline and verdict.baseline.source.startswith("saved run")
