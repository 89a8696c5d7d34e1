"""Where the files synthgate ships beside its code live: bundled profiles and stage suites (see synthgate._bundled)."""

from __future__ import annotations

import functools
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
    return any(real.is_relative_to(folder) for folder in _shipped_folders())


@functools.cache  # asked once per collected test: resolving the folders each time cost 0.7 s on 577 tests
def _shipped_folders() -> tuple[Path, ...]:
    """The resolved folders of the bundled profiles and stage suites."""
    return (targets_dir(), *((bundled_root() / "suites" / s).resolve() for s in ("smoke", "e2e", "fuzz", "load")))
