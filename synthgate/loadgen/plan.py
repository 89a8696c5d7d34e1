"""The profile's load tasks as ready-to-send requests: templates expanded, writes filtered, bodies encoded."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthgate.http import expand as expand_templates  # the same ${secrets.X}/${vars.X} rules as every stage
from synthgate.profile import Profile, load_profile, resolve_base_url
from synthgate.profile.load import LoadConfig

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PROFILE = "demo"


@dataclass(frozen=True)
class PlannedRequest:
    """One weighted request of the load mix, with secrets and variables already expanded."""

    name: str  # the label its samples are recorded under (never holds an expanded secret)
    method: str
    path: str
    weight: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    expect_status: frozenset[int] = frozenset(range(200, 400))


@dataclass
class LoadPlan:
    """What the virtual users send, and what was left out."""

    requests: list[PlannedRequest]
    skipped_writes: list[str]
    config: LoadConfig | None
    timeout_s: float


def build_plan(profile: Profile, allow_writes: bool | None = None, resolve: bool = True) -> LoadPlan:
    """The profile's load tasks; POST/PUT/PATCH/DELETE only when `load.allow_writes` (or the override).

    `resolve=False` keeps ${...} templates as written: a master of remote workers sends nothing itself, and
    only the workers resolve secrets, from their own environment.
    """
    def expand(value: Any, profile: Profile) -> Any:
        return expand_templates(value, profile) if resolve else value

    cfg = profile.load
    timeout = (cfg.timeout_s if cfg and cfg.timeout_s else None) or profile.defaults.timeout_s
    if cfg is None:
        return LoadPlan([], [], None, timeout)
    writes = cfg.allow_writes if allow_writes is None else allow_writes
    common = {str(k): str(v) for k, v in expand(dict(profile.headers), profile).items()}
    out: list[PlannedRequest] = []
    skipped: list[str] = []
    for task in cfg.tasks:
        if task.method in WRITE_METHODS and not writes:
            skipped.append(task.label)
            continue
        headers = {**common, **{str(k): str(v) for k, v in expand(dict(task.headers), profile).items()}}
        body: bytes | None = None
        if task.json_body is not None:
            body = json.dumps(expand(task.json_body, profile), separators=(",", ":")).encode()
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
        out.append(
            PlannedRequest(
                name=task.label,
                method=task.method,
                path=str(expand(task.path, profile)),
                weight=task.weight,
                headers=headers,
                body=body,
                expect_status=frozenset(task.expect_status),
            )
        )
    return LoadPlan(out, skipped, cfg, timeout)


def profile_from_env() -> tuple[Profile, Path]:
    """The profile named by $SYNTHGATE_PROFILE (a path or a bundled name; default: demo)."""
    return load_profile(os.environ.get("SYNTHGATE_PROFILE") or DEFAULT_PROFILE)


def host_from_env(profile: Profile) -> str | None:
    """The base URL from $SYNTHGATE_BASE_URL, $API_URL or the profile (Locust's --host overrides it)."""
    url, _ = resolve_base_url(None, profile)
    return url
