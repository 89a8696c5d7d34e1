"""The deployment under test, as the gate and the probes receive it from whoever started them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from synthgate.profile import Profile, ProfileError, resolve_base_url


@dataclass
class Target:
    """A base URL to judge, where it came from, and what a rollback command and the history need to know."""

    base_url: str
    source: str
    rollback_env: dict[str, str] = field(default_factory=dict)
    release: str | None = None  # the release the target was started with (what the gate expects), when known
    history_key: str | None = None  # what files its runs in the history (default: the base URL as reported)


# Opens the target for a loaded profile: the CLI passes one that can start the embedded demo target.
TargetOpener = Callable[[Profile, Path], AbstractContextManager[Target]]


def given_target(profile: Profile, path: Path, base_url: str | None) -> Target:
    """The deployment named by --base-url, SYNTHGATE_BASE_URL, API_URL or the profile; ProfileError if none."""
    url, source = resolve_base_url(base_url, profile)
    if not url:
        raise ProfileError(f"{path}: base_url: required: set it in the profile, or pass --base-url, "
                           "or set SYNTHGATE_BASE_URL or API_URL (expected an http(s) URL)")
    return Target(url, source)


def opener_for(base_url: str | None) -> TargetOpener:
    """An opener that only ever gates a given URL (what library callers get by default)."""

    @contextmanager
    def open_given(profile: Profile, path: Path) -> Iterator[Target]:
        yield given_target(profile, path, base_url)

    return open_given
