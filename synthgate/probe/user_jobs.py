"""The team's own smoke checks (tests/smoke/ beside the profile) as one probe job, run in a pytest child."""

from __future__ import annotations

import time
from pathlib import Path

from synthgate.probe.jobs import Job, probe_result
from synthgate.profile import Profile
from synthgate.stages import StageContext, user_checks
from synthgate.stages.pytest_suite import run_suite
from synthgate.store import ProbeResult

TIMEOUT_S = 120.0
# plugins the team's smoke checks never need: the child starts faster each round
_ARGS = ["--synthgate-user-only", "-p", "no:schemathesis", "-p", "no:hypothesispytest"]


def user_checks_job(profile: Profile, profile_path: Path, base_url: str, every: float,
                    reports_dir: Path) -> Job | None:
    """One job per round running every user smoke check (ids: tests/smoke/test_x.py::test_y); None without any."""
    def context() -> StageContext:
        return StageContext(profile=profile, profile_path=profile_path, base_url=base_url,
                            reports_dir=reports_dir / "probe-user", progress=lambda _text: None, label="probe")

    if not user_checks.dirs(context(), "smoke"):
        return None
    def run() -> list[ProbeResult]:
        ts = time.time()
        stage = run_suite(context(), "smoke", TIMEOUT_S, extra_args=_ARGS)
        return [probe_result(c, ts, profile, latency_ms=c.duration_ms) for c in stage.checks if c.status != "skipped"]

    return Job(id="user-checks:smoke", interval=every, run=run)
