"""Thresholds per request name: every load task is judged alone, inheriting the profile's limits."""

from __future__ import annotations

from pathlib import Path

from verdicts import read_verdict

from synthgate.loadgen.runner import LoadRunResult
from synthgate.profile.load import LoadConfig, LoadTask, LoadThresholds, TaskThresholds
from synthgate.stages.load import threshold_checks

CFG = LoadConfig(
    tasks=[LoadTask(path="/fast", weight=9), LoadTask(path="/slow"),
           LoadTask(path="/own", thresholds=TaskThresholds(p95_ms=50, error_rate=None))],
    thresholds=LoadThresholds(p95_ms=500, error_rate=0.01),
)


def _stats(requests: int, failures: int, p95: float) -> dict[str, float]:
    return {"requests": requests, "failures": failures, "samples": requests, "error_rate": failures / requests,
            "p50_ms": p95 / 4, "p95_ms": p95, "p99_ms": p95 * 1.2}


def _result() -> LoadRunResult:
    return LoadRunResult(
        requests=1000, samples=1000, failures=3, error_rate=0.003, duration_s=5, rps=200.0,
        p50_ms=2.0, p95_ms=10.0, p99_ms=700.0,  # the mix looks healthy
        per_request={"GET /fast": _stats(900, 0, 9.0), "GET /slow": _stats(50, 3, 701.0),
                     "GET /own": _stats(50, 0, 60.0)},
        errors={"GET /slow: HTTP 429": 3},
    )


def test_one_slow_endpoint_fails_its_own_check_not_the_aggregate() -> None:
    checks = {c.id: c for c in threshold_checks(_result(), CFG)}
    assert checks["load.p95"].status == "passed" and checks["load.error_rate"].status == "passed"
    slow = checks["load.p95[GET /slow]"]
    assert slow.status == "failed" and slow.kind == "assertion"
    assert slow.message.startswith("GET /slow: P95 701.0 ms > limit 500 ms") and slow.details["task"] == "GET /slow"
    rate = checks["load.error_rate[GET /slow]"]
    assert rate.status == "failed" and "HTTP 429 ×3" in rate.message  # 6 % of this task, 0.3 % of the mix
    assert checks["load.p95[GET /fast]"].status == "passed"


def test_a_task_inherits_unless_it_sets_its_own() -> None:
    checks = {c.id: c for c in threshold_checks(_result(), CFG)}
    own = checks["load.p95[GET /own]"]
    assert own.status == "failed" and own.details["limit"] == 50.0  # its own 50 ms, not the profile's 500
    assert "load.error_rate[GET /own]" not in checks  # null drops an inherited limit
    assert CFG.tasks[0].limits(CFG.thresholds) == {"p95": 500.0, "error_rate": 0.01}


def test_a_task_never_sent_is_skipped_not_passed() -> None:
    result = _result()
    del result.per_request["GET /own"]
    checks = {c.id: c for c in threshold_checks(result, CFG)}
    assert checks["load.p95[GET /own]"].status == "skipped"


def test_slow_endpoint_demo_fails_per_task_only(tmp_path: Path, cli) -> None:
    proc = cli("run", "--stages", "load", "--demo-fault", "slow-endpoint", "--no-rollback", "--reports", str(tmp_path))
    verdict = read_verdict(tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    checks = {c["id"]: c for s in verdict["stages"] for c in s["checks"]}
    assert checks["load.p95[GET /api/session]"]["status"] == "failed"
    assert checks["load.p95"]["status"] == "passed"  # the aggregate hides it: only the per-task check sees it
    session = verdict["load"]["per_request"]["GET /api/session"]
    assert session["thresholds"]["p95"] == 500.0 and session["checks"]["load.p95[GET /api/session]"] == "failed"
    summary = (tmp_path / "summary.md").read_text()
    assert "load.p95[GET /api/session]" in summary
    assert "load.p95[GET /api/session]" in (tmp_path / "report.html").read_text()
