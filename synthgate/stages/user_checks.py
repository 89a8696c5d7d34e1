"""A team's own pytest checks, kept beside its profile, run in the same pytest child as the bundled suite.

`<profile's folder>/<checks_dir>/<stage>/` (checks_dir defaults to `tests`) joins the stage's bundled suite, so
one child runs both and the team's checks count like bundled ones (fail-fast, retries, flakiness, reports).
Their ids are their file paths relative to the profile's folder: `tests/smoke/test_billing.py::test_invoice`.
"""

from __future__ import annotations

from pathlib import Path

from synthgate.bundled import is_bundled
from synthgate.stages.base import StageContext


def checks_root(ctx: StageContext) -> Path:
    """The folder user check ids are relative to: the profile's own folder."""
    return ctx.profile_path.resolve().parent


def dirs(ctx: StageContext, stage: str) -> list[Path]:
    """The user's check folder of this stage, when the profile is the team's own and the folder has tests."""
    if is_bundled(ctx.profile_path):  # a bundled profile has no repository of checks around it
        return []
    folder = (checks_root(ctx) / ctx.profile.checks_dir / stage).resolve()
    if not folder.is_dir() or is_bundled(folder):
        return []
    return [folder] if any(folder.rglob("test_*.py")) or any(folder.rglob("*_test.py")) else []


def args(ctx: StageContext, folders: list[Path]) -> list[str]:
    """Extra pytest arguments when user folders join the run."""
    if not folders:
        return []
    # importlib import mode: a user's tests/smoke/test_health.py and the bundled one are different modules
    # (the default mode would refuse two test files of the same name)
    return ["--import-mode=importlib", "--synthgate-checks-root", str(checks_root(ctx))]
