"""Trial runs of a draft profile: each stage exactly as `synthgate run` runs it, in a scratch folder.

A draft is only written once each of its stages passed against the deployment. A trial run is the real gate
(`synthgate run --stages STAGE` in a child process: the same stages, suites and checks), without rollback,
baseline or the user's history. Stages that do not depend on each other run side by side.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from synthgate.results import CheckResult, StageResult, Verdict

TRIAL_TIMEOUT_S = 600.0  # one trial stage, its child's start and reports included


class Trial:
    """A scratch folder where a draft profile (and the example tests beside it) is run stage by stage."""

    def __init__(self, scratch: Path, base_url: str, examples: dict[str, str]) -> None:
        self.scratch = scratch
        self.base_url = base_url
        self.examples = dict(examples)  # the team's example tests run in the trial too
        self.runs = 0

    def forget_example(self, rel: str) -> None:
        """An example test that failed is written skipped: the trial runs on without it."""
        self.examples.pop(rel, None)

    def run(self, data: dict[str, Any], stage: str) -> StageResult | None:
        """The stage's result on the deployment (None when the run produced none)."""
        return self.run_many(data, [stage])[stage]

    def run_many(self, data: dict[str, Any], stages: list[str]) -> dict[str, StageResult | None]:
        """Each stage in its own `synthgate run`, all at once; each one's result (None when it produced none)."""
        started: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
        for stage in stages:
            self.runs += 1
            folder = self.scratch / f"run-{self.runs}-{stage}"
            folder.mkdir(parents=True)
            for rel, text in self.examples.items():
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                (folder / rel).write_text(text, encoding="utf-8")
            profile = folder / "synthgate.yaml"
            profile.write_text(yaml.safe_dump(strictest(data), sort_keys=False), encoding="utf-8")
            argv = [sys.executable, "-m", "synthgate", "run", "--profile", str(profile), "--base-url", self.base_url,
                    "--stages", stage, "--no-rollback", "--baseline", "none",
                    "--db", str(folder / "history.db"), "--reports", str(folder / "reports")]
            log = (folder / "run.log").open("wb")
            started[stage] = (subprocess.Popen(argv, cwd=folder, stdout=log, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL), folder)
            log.close()
        out: dict[str, StageResult | None] = {}
        for stage, (proc, folder) in started.items():
            try:
                proc.wait(timeout=TRIAL_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            out[stage] = _stage_of(folder / "reports" / "verdict.json", stage)
        return out


def _stage_of(path: Path, stage: str) -> StageResult | None:
    try:
        verdict = Verdict.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return next((s for s in verdict.stages if s.name == stage), None)


def strictest(data: dict[str, Any]) -> dict[str, Any]:
    """The draft as the trial runs it: a journey gets one attempt (a retry would hide a flaky step), untraced."""
    out = copy.deepcopy(data)
    e2e = out.setdefault("e2e", {})
    e2e.update(retries=0, trace="off", screenshot="off")
    return out


def failed_checks(result: StageResult | None) -> list[CheckResult]:
    """The checks of a trial stage that would fail the gate (a flaky pass is a pass)."""
    if result is None:
        return []
    return [c for c in result.checks if c.status == "failed"]
