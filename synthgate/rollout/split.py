"""Setting the traffic split with the profile's command (e.g. `wrangler versions deploy`), bounded."""

from __future__ import annotations

from dataclasses import dataclass

from synthgate import rollback
from synthgate.profile.model import Rollback
from synthgate.profile.rollout import Rollout
from synthgate.results import SplitBack, SplitRecord


@dataclass
class SplitRun:
    """One run of the split command."""

    new_percent: float
    command: list[str]
    exit_code: int | None
    duration_s: float
    output: str

    @property
    def ok(self) -> bool:
        """The command exited 0 within its timeout."""
        return self.exit_code == 0

    def record(self) -> SplitRecord:
        """A step's `split` in verdict.json."""
        percent = int(self.new_percent) if float(self.new_percent).is_integer() else self.new_percent
        return SplitRecord(new_percent=percent, command=self.command, exit_code=self.exit_code,
                           duration_s=round(self.duration_s, 3), output=self.output[-1000:])

    def back_record(self) -> SplitBack:
        """The rollout's `split_back` in verdict.json: the record, and whether it worked."""
        return SplitBack(**dict(self.record()), ok=self.ok)


def set_split(spec: Rollout, new: str, old: str, new_percent: float) -> SplitRun:
    """Run the split command once for `new_percent` (the old version gets the rest); the venv's scripts are on
    PATH, the whole process group dies at the timeout (synthgate.rollback.run_action)."""
    command = spec.render_split(new, old, new_percent)
    action = Rollback(command=command, timeout_s=spec.split_timeout_s, verify=False)
    code, output, seconds = rollback.run_action(action, {})
    return SplitRun(new_percent, action.command if isinstance(action.command, list) else [action.command],
                    code, seconds, output)


def split_back(spec: Rollout, new: str, old: str, attempts: int = 2) -> SplitRun:
    """Everything back to the old version (the new one at 0 %), tried twice if the first run fails."""
    run = set_split(spec, new, old, 0)
    for _ in range(attempts - 1):
        if run.ok:
            break
        run = set_split(spec, new, old, 0)
    return run
