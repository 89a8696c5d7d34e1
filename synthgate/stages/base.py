"""What every stage receives, and the registry that maps stage names to their runners."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from synthgate.profile import Profile
from synthgate.results import StageResult
from synthgate.stage_options import StageOptions

STAGE_ORDER = ("smoke", "e2e", "fuzz", "load")


@dataclass
class StageContext:
    """Everything a stage needs: the profile, the target, where to write, and how to report progress."""

    profile: Profile
    profile_path: Path
    base_url: str
    reports_dir: Path
    progress: Callable[[str], None] = print
    # per-run overrides of the profile (seed, workers, duration, max examples, the rollout's pin...)
    options: StageOptions = field(default_factory=StageOptions)
    label: str = ""  # "" for the gate's own run, "verify" for the re-run after rollback
    deadline: float | None = None  # time.monotonic() by which the stage must have ended (the gate's --deadline)


StageRunner = Callable[[StageContext], StageResult]


def stage_runner(name: str) -> StageRunner:
    """The run() function of a stage module, imported lazily (the load stage pulls in gevent)."""
    if name not in STAGE_ORDER:
        raise ValueError(f"unknown stage {name!r}; expected one of {', '.join(STAGE_ORDER)}")
    module = importlib.import_module(f"synthgate.stages.{name}")
    return module.run  # type: ignore[no-any-return]
