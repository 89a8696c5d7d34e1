"""synthgate in a team's own repository: the default profile, `init`, `validate`, `schema`, `--version`."""

from __future__ import annotations

from pathlib import Path

DEFAULT_PROFILE_FILE = "synthgate.yaml"


def default_profile() -> str:
    """`./synthgate.yaml` when the working directory has one, else the bundled demo profile."""
    return DEFAULT_PROFILE_FILE if Path(DEFAULT_PROFILE_FILE).is_file() else "demo"
