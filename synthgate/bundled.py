"""Where the files synthgate ships beside its code live: bundled profiles and stage suites (see synthgate._bundled)."""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def bundled_root() -> Path:
    """The `_bundled` folder of the installed package (a real folder in a wheel, symlinks in a checkout)."""
    return Path(str(importlib.resources.files("synthgate"))) / "_bundled"


def targets_dir() -> Path:
    """The bundled profiles, resolved to the real folder (the repository's `targets/` in a checkout)."""
    return (bundled_root() / "targets").resolve()


def suites_root() -> Path:
    """The folder holding one pytest suite per stage (the repository's `tests/` in a checkout)."""
    return (bundled_root() / "suites" / "smoke").resolve().parent


def is_bundled(path: Path) -> bool:
    """Whether a file belongs to what synthgate ships (a bundled profile or suite), not to a user's repository."""
    real = path.resolve()
    return real.is_relative_to(targets_dir()) or any(
        real.is_relative_to((bundled_root() / "suites" / s).resolve()) for s in ("smoke", "e2e", "fuzz", "load"))
