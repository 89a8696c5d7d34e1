"""Honest numbers: the load runner against loopback servers whose latency distribution is known.

Each run is a real Locust subprocess (a few seconds); the thresholds logic is also checked on
hand-made results for the no-data and unreachable cases.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from synthgate.loadgen.runner import LoadRunResult, LoadRunSpec, run_load
from synthgate.loadgen.testserver import CalibrationServer
from synthgate.profile.load import LoadConfig, LoadTask, LoadThresholds
from synthgate.stages.load import threshold_checks

ROOT = Path(__file__).resolve().parents[2]
PROFILE = """\
name: calibration
load:
  tasks: [{name: root, path: /}]
"""


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    path = tmp_path / "calibration.yaml"
    path.write_text(PROFILE, encoding="utf-8")
    return path


def _run(profile: Path, url: str, out: Path, **kw: object) -> LoadRunResult:
    lines: list[str] = []
    spec = LoadRunSpec(profile=str(profile), base_url=url, out_dir=out, **kw)  # type: ignore[arg-type]
    result = run_load(spec, progress=lines.append)
    assert lines and lines[-1].startswith("load "), lines  # live progress reached the callback
    return result


def _within(measured: float | None, truth: float, tolerance: float = 0.05) -> bool:
    return measured is not None and abs(measured - truth) <= tolerance * truth


def _truth(values: list[float], pct: float) -> float:
    """Nearest-rank percentile, as HDR computes it."""
    ranked = sorted(values)
    return ranked[max(0, math.ceil(pct / 100.0 * len(ranked)) - 1)]


def test_percentiles_within_5_percent_of_a_known_distribution(profile: Path, tmp_path: Path) -> None:
    # every request waits 100 ms, every 10th waits 500 ms instead (deterministic): nominally P50 = 100 ms
    # and P95 = P99 = 500 ms. The truth is what the server logged it did (timer overshoot included).
    log = tmp_path / "server-latencies.txt"
    args = ("--delay-ms", "100", "--slow-every", "10", "--slow-ms", "500", "--log-latencies", str(log))
    with CalibrationServer(*args) as srv:
        r = _run(profile, srv.url, tmp_path / "out", users=50, duration_s=2.5)
    served = [float(v) for v in log.read_text().split()]
    assert r.failures == 0 and r.samples >= 500, r
    assert 0 <= len(served) - r.samples <= 60  # what the generator counted, plus requests in flight at the end
    truth = {p: _truth(served, p) for p in (50, 95, 99)}
    assert _within(truth[50], 100.0, 0.2) and _within(truth[95], 500.0, 0.2)  # the distribution is as built
    assert _within(r.p50_ms, truth[50]), (r.percentiles, truth)
    assert _within(r.p95_ms, truth[95]), (r.percentiles, truth)
    assert _within(r.p99_ms, truth[99]), (r.percentiles, truth)
    # artefacts: Locust's own CSVs and HTML report, fed by the batched stats, agree on the count
    stats = Path(r.artefacts["stats_csv"]).read_text().splitlines()
    assert f",Aggregated,{r.requests}," in stats[-1]
    assert Path(r.artefacts["html"]).stat().st_size > 1000
    assert len(r.samples_ms["root"]) == min(r.samples, 5000)
    assert r.histograms["root"]


def test_open_model_reports_a_stall_that_the_closed_model_hides(profile: Path, tmp_path: Path) -> None:
    stall = ("--delay-ms", "2", "--stall-at-s", "1.0", "--stall-s", "1.0")
    with CalibrationServer(*stall) as srv:
        closed = _run(profile, srv.url, tmp_path / "closed", users=20, duration_s=2.5)
    with CalibrationServer(*stall) as srv:
        opened = _run(profile, srv.url, tmp_path / "open", users=20, duration_s=2.5, arrival_rate=200)
    # both saw the one-second stall...
    assert closed.percentiles["max"] >= 900 and opened.percentiles["max"] >= 900
    # ...but closed-model users simply stopped sending during it: its P99 stays far below the stall
    assert closed.p99_ms is not None and closed.p99_ms < 300, closed.percentiles
    # the open model kept its schedule, so the ~200 requests due during the stall count their wait
    assert opened.mode == "open" and 0.85 * 500 <= opened.requests <= 1.05 * 500, opened
    assert opened.p95_ms is not None and opened.p95_ms > 500, opened.percentiles
    assert opened.p99_ms is not None and opened.p99_ms > 800, opened.percentiles


def test_two_workers_are_aggregated(profile: Path, tmp_path: Path) -> None:
    with CalibrationServer("--delay-ms", "5") as srv:
        r = _run(profile, srv.url, tmp_path / "dist", users=10, duration_s=2.0, workers=2)
    log = (tmp_path / "dist" / "locust.log").read_text()
    assert "2 workers connected" in log
    assert r.workers == 2 and r.failures == 0
    # ten users at ~5 ms for ~2 s: far more than one worker's share could send alone
    assert r.requests >= 1000 and r.samples == r.requests
    # the master's Locust stats (fed by both workers' batched reports) match the merged HDR count
    stats = Path(r.artefacts["stats_csv"]).read_text().splitlines()
    assert f",Aggregated,{r.requests}," in stats[-1]
    assert _within(r.p50_ms, 5.5, tolerance=0.5)


def test_the_tests_locustfile_runs_unchanged(profile: Path, tmp_path: Path) -> None:
    with CalibrationServer() as srv:
        r = _run(profile, srv.url, tmp_path / "lf", users=2, duration_s=1.0, max_requests=200,
                 locustfile=ROOT / "tests" / "load" / "locustfile.py")  # fmt: skip
    assert r.requests == 200 and r.failures == 0  # bounded by max_requests, ended early


CFG = LoadConfig(
    tasks=[LoadTask(path="/")],
    thresholds=LoadThresholds(p50_ms=100, p95_ms=500, p99_ms=900, error_rate=0.01, min_rps=10),
)


def test_zero_samples_is_no_data_never_a_pass() -> None:
    checks = threshold_checks(LoadRunResult(), CFG)
    assert [c.id for c in checks] == ["load.p50", "load.p95", "load.p99", "load.error_rate", "load.min_rps"]
    assert all(c.status == "failed" and c.kind == "no-data" for c in checks)


def test_all_unreachable_is_inconclusive() -> None:
    r = LoadRunResult(requests=40, failures=40, no_connection=40, unreachable=40,
                      errors={"root: connect timeout after 5 s": 40})  # fmt: skip
    checks = threshold_checks(r, CFG)
    assert all(c.status == "failed" and c.kind == "unreachable" for c in checks)
    assert "could not reach the target" in checks[0].message


def test_refused_connections_are_evidence() -> None:
    r = LoadRunResult(requests=40, failures=40, no_connection=40, error_rate=1.0, duration_s=2, rps=20,
                      errors={"root: connection refused": 40})  # fmt: skip
    checks = {c.id: c for c in threshold_checks(r, CFG)}
    assert checks["load.error_rate"].kind == "assertion"
    assert checks["load.error_rate"].message.startswith("error rate 100 % > limit 1 %")
    assert checks["load.p95"].kind == "no-data"


def test_too_few_samples_for_a_percentile() -> None:
    r = LoadRunResult(requests=50, samples=50, error_rate=0.0, duration_s=5, rps=10.0,
                      p50_ms=40.0, p95_ms=80.0, p99_ms=950.0)  # fmt: skip
    checks = {c.id: c for c in threshold_checks(r, CFG)}
    assert checks["load.p99"].status == "skipped"
    assert "50 samples, 100 needed" in checks["load.p99"].message
    assert checks["load.p95"].status == "passed" and checks["load.p95"].details["measured"] == 80.0
    assert checks["load.p50"].message == "P50 40.0 ms <= limit 100 ms (50 samples)"


def test_threshold_message_names_value_and_limit() -> None:
    r = LoadRunResult(requests=1000, samples=1000, failures=3, error_rate=0.003, duration_s=5, rps=200.0,
                      p50_ms=300.0, p95_ms=612.34, p99_ms=700.0)  # fmt: skip
    checks = {c.id: c for c in threshold_checks(r, CFG)}
    p95 = checks["load.p95"]
    assert p95.status == "failed" and p95.kind == "assertion"
    assert p95.message.startswith("P95 612.3 ms > limit 500 ms")
    assert p95.details == {"measured": 612.34, "limit": 500.0, "unit": "ms", "samples": 1000}
    assert checks["load.error_rate"].status == "passed"
