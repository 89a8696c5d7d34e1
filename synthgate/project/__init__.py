"""synthgate in a team's own repository: the default profile, `init`, `validate`, `schema`, `--version`."""

from __future__ import annotations

from synthgate.profile.loader import DEFAULT_PROFILE_FILE, default_profile

__all__ = ["DEFAULT_PROFILE_FILE", "default_profile"]
