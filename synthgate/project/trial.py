"""Trial runs of a draft profile: one stage at a time, exactly as `synthgate run` runs it, in a scratch folder.

A draft is only written once each of its stages passed against the deployment; a trial run is the real gate
(the same stages, suites and checks), without rollback, baseline or history of the user's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from synthgate.gate import GateOptions, run_gate
from synthgate.results import CheckResult, StageResult

Progress = Callable[[str], None]


class Trial:
    """A scratch folder where a draft profile (and the example tests beside it) is run stage by stage."""

    def __init__(self, scratch: Path, base_url: str, examples: dict[str, str]) -> None:
        self.scratch = scratch
        self.base_url = base_url
        self.runs = 0
        for rel, text in examples.items():  # the team's example tests run in the trial too
            path = scratch / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

    def forget_example(self, rel: str) -> None:
        """An example test that failed is written skipped: the trial runs on without it."""
        (self.scratch / rel).unlink(missing_ok=True)

    def run(self, data: dict[str, Any], stage: str) -> StageResult | None:
        """The stage's result on the deployment (None when the run produced none, e.g. the target vanished)."""
        self.runs += 1
        profile_path = self.scratch / "synthgate.yaml"
        profile_path.write_text(yaml.safe_dump(strictest(data), sort_keys=False), encoding="utf-8")
        opts = GateOptions(profile=str(profile_path), base_url=self.base_url, stages=[stage], stages_explicit=False,
                           reports_dir=self.scratch / f"reports-{self.runs}-{stage}", no_rollback=True,
                           baseline="none", history_db=self.scratch / "history.db", progress=lambda _line: None)
        verdict = run_gate(opts)
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
