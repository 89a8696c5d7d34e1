"""The command line's target opener: the URL it was given, else the embedded demo target the profile asks for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from synthgate.demo.faults import FAULTS
from synthgate.demo.releases import release_for
from synthgate.demo.server import EmbeddedTarget
from synthgate.profile import Profile, ProfileError, resolve_base_url
from synthgate.target import Target, TargetOpener, given_target

# The embedded target listens on a new port each run: its history is kept under one name.
HISTORY_KEY = "embedded-demo"


def opener(base_url: str | None, fault: str | None = None) -> TargetOpener:
    """Open the given URL, or start the embedded demo target (with `fault`) when the profile has none."""

    @contextmanager
    def open_target(profile: Profile, path: Path) -> Iterator[Target]:
        url, source = resolve_base_url(base_url, profile)
        if url and fault:
            raise ProfileError("--demo-fault only applies to the embedded demo target (drop --base-url)")
        if url:
            yield Target(url, source)
            return
        if not profile.embedded_demo:
            yield given_target(profile, path, base_url)  # raises: no URL anywhere, and no demo to start
            return

        if fault and fault not in FAULTS:
            raise ProfileError(f"--demo-fault: unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
        with EmbeddedTarget(fault=fault) as demo:
            yield Target(demo.url, "embedded demo target", {"SYNTHGATE_DEMO_STATE": str(demo.state_path)},
                         release=release_for(fault)["version"], history_key=HISTORY_KEY)

    return open_target
