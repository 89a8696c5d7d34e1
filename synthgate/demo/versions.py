"""The demo target's versions, kept like Cloudflare Workers keeps them: uploaded versions and one deployment.

A version is uploaded without traffic (`upload`); a deployment splits traffic between at most two versions by
percentage (`deploy`, e.g. `v2@10% v1@90%`); a version deployed at 0 % gets no share of the traffic but stays
part of the deployment, so a request may still be sent to it with the override header (synthgate's rollout
verifies the new version that way before any user meets it). `split` in `status` lists the versions that
receive traffic; `deployment` lists every version of the deployment, 0 % included.

The state is one JSON file (`--state`); each version also has a release file the demo app reads its fault from
(`<state>.versions/<id>.json`), and every version shares one database, as releases of one Worker share D1.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synthgate.demo.faults import check_fault
from synthgate.demo.releases import locked, write_atomic  # one state-file discipline for both stand-ins

WORKER_NAME = "demo"  # the key of the override header: demo="<version-id>"
FIRST_VERSION = "v1"
HISTORY_LIMIT = 50
_SPEC = re.compile(r"^(?P<id>[A-Za-z0-9][A-Za-z0-9._-]*)@(?P<pct>\d+(?:\.\d+)?)%?$")


class VersionsError(ValueError):
    """A versions state that is missing, unreadable, or a change that is not allowed; the message says which."""


def release_dir(state: Path) -> Path:
    """Where the per-version release files live."""
    return state.with_name(state.name + ".versions")


def release_file(state: Path, version: str) -> Path:
    """The release file the demo app of `version` reads its fault from."""
    return release_dir(state) / f"{version}.json"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read(state: Path) -> dict[str, Any]:
    """The versions state: `versions` (id -> fault, uploaded_at), `deployment` (id -> percent), `history`."""
    try:
        data = json.loads(Path(state).read_text())
    except FileNotFoundError:
        raise VersionsError(f"{state}: no versions state: start `synthgate demo serve --versions` first") from None
    except (OSError, ValueError) as exc:
        raise VersionsError(f"{state}: cannot read the versions state: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("versions"), dict) \
            or not isinstance(data.get("deployment"), dict):
        raise VersionsError(f"{state}: not a versions state (no versions or deployment)")
    return data


def _add_version(state: Path, data: dict[str, Any], version: str, fault: str | None) -> None:
    data["versions"][version] = {"fault": fault, "uploaded_at": _now()}
    # the demo app's own release file: its `version` is what /v1/health names
    write_atomic(release_file(state, version), {"current": {"version": version, "fault": fault}, "previous": None,
                                          "history": []})


def _event(data: dict[str, Any], action: str, **fields: Any) -> None:
    data["history"] = [*data.get("history", []), {"action": action, "at": _now(), **fields}][-HISTORY_LIMIT:]


def init(state: Path, fault: str | None = None) -> dict[str, Any]:
    """Start fresh: one version, v1 (healthy, or carrying `fault`), takes 100 %."""
    state = Path(state)
    check_fault(fault)
    with locked(state):
        data: dict[str, Any] = {"worker": WORKER_NAME, "versions": {}, "deployment": {}, "history": []}
        _add_version(state, data, FIRST_VERSION, fault)
        data["deployment"] = {FIRST_VERSION: 100}
        _event(data, "init", deployment=data["deployment"])
        write_atomic(state, data)
    return data


def upload(state: Path, fault: str | None = None) -> str:
    """Add a version without traffic (healthy, or carrying `fault`); its id."""
    state = Path(state)
    check_fault(fault)
    with locked(state):
        data = read(state)
        numbers = [int(v[1:]) for v in data["versions"] if re.fullmatch(r"v\d+", v)]
        version = f"v{max(numbers, default=0) + 1}"
        _add_version(state, data, version, fault)
        _event(data, "upload", version=version, fault=fault)
        write_atomic(state, data)
    return version


def parse_split(specs: list[str]) -> dict[str, float]:
    """`ID@P%` arguments as {id: percent}: at most two versions, each once, percents summing to 100."""
    if not 1 <= len(specs) <= 2:
        raise VersionsError(f"expected one or two ID@PERCENT% arguments, got {len(specs)}")
    split: dict[str, float] = {}
    for spec in specs:
        found = _SPEC.match(spec.strip())
        if found is None:
            raise VersionsError(f"{spec!r}: expected ID@PERCENT% (e.g. v2@10%)")
        version, pct = found["id"], float(found["pct"])
        if version in split:
            raise VersionsError(f"{spec!r}: version {version} named twice")
        if pct > 100:
            raise VersionsError(f"{spec!r}: percent over 100")
        split[version] = int(pct) if pct.is_integer() else pct
    if abs(sum(split.values()) - 100) > 1e-9:
        raise VersionsError(f"percentages sum to {sum(split.values()):g}, expected 100")
    return split


def deploy(state: Path, specs: list[str]) -> dict[str, float]:
    """Make a deployment of the named versions (see parse_split); the new deployment."""
    state = Path(state)
    split = parse_split(specs)
    with locked(state):
        data = read(state)
        unknown = [v for v in split if v not in data["versions"]]
        if unknown:
            raise VersionsError(f"unknown version(s) {', '.join(unknown)}; uploaded: {', '.join(data['versions'])}")
        data["deployment"] = split
        _event(data, "deploy", deployment=split)
        write_atomic(state, data)
    return split


def status(state: Path) -> dict[str, Any]:
    """`split` (versions that get traffic), `deployment` (every version of it, 0 % included), `versions`."""
    data = read(Path(state))
    deployment = data["deployment"]
    return {"split": {v: p for v, p in deployment.items() if p > 0}, "deployment": deployment,
            "versions": data["versions"]}
