"""Pinning requests to one version of a deployment, and checking each answer came from it.

`synthgate rollout` runs the gate and the smoke checks with a pin: extra request headers (e.g.
`Cloudflare-Workers-Version-Overrides: demo="v2"`) and, when the profile names where an answer says which
version served it (`rollout.version_from`), the version every answer must name. The pin travels to the stage
processes inside their stage options (`--synthgate-options`), never in the environment. An answer from another
version (a stale edge, an override the platform did not apply) is no evidence about the pinned one: the check
that got it is `no-data` and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from synthgate import run_state
from synthgate.stage_options import PinOption


@dataclass(frozen=True)
class VersionPin:
    """The version requests are pinned to, the headers that pin them, and where answers name their version."""

    version: str
    headers: dict[str, str] = field(default_factory=dict)
    evidence_header: str | None = None
    evidence_json: str | None = None  # dotted path of a JSON field

    def to_option(self) -> PinOption:
        """The pin as a stage option (StageOptions.pin, the load generator's --sg-pin)."""
        return PinOption(version=self.version, headers=self.headers, evidence_header=self.evidence_header,
                         evidence_json=self.evidence_json)

    @classmethod
    def from_option(cls, option: PinOption | None) -> VersionPin | None:
        """The pin a stage option carries, if any."""
        if option is None or not option.version:
            return None
        return cls(version=option.version, headers=dict(option.headers), evidence_header=option.evidence_header,
                   evidence_json=option.evidence_json)

    @property
    def verifiable(self) -> bool:
        """Whether answers say which version served them."""
        return bool(self.evidence_header or self.evidence_json)


def served_by(response: httpx.Response, header: str | None, json_field: str | None) -> str | None:
    """The version an answer names (header or dotted JSON field), or None when it names none."""
    if header:
        value = response.headers.get(header)
        return value.strip() if value is not None else None
    if json_field:
        try:
            node: Any = response.json()
        except ValueError:
            return None
        for part in json_field.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return None if node is None or isinstance(node, dict | list) else str(node)
    return None


# the pin the run checks answers against (a one-item list: a slot's value is made by its factory)
PIN: run_state.Slot[list[VersionPin]] = run_state.Slot("version pin", list)


def activate(pin: VersionPin | None) -> None:
    """Check every answer of this run against `pin` from now on (None: stop checking)."""
    run_state.current().get(PIN)[:] = [pin] if pin is not None else []


def active() -> VersionPin | None:
    """The pin this run checks answers against."""
    held = run_state.current().get(PIN)
    return held[0] if held else None


def mismatch(response: httpx.Response | None, pin: VersionPin | None = None) -> str | None:
    """Why this answer is no evidence about the pinned version, or None when it is (or nothing is pinned).

    Only answers that name a version are judged: an answer from the JSON field's source that has no such field
    (a page, a 404 body) is the pinned version's as far as anyone can tell, and the header source covers those."""
    pin = pin or active()
    if pin is None or response is None or not pin.verifiable:
        return None
    named = served_by(response, pin.evidence_header, pin.evidence_json)
    source = f"header {pin.evidence_header}" if pin.evidence_header else f"JSON field {pin.evidence_json}"
    if named is None:
        if pin.evidence_header:
            return (f"no version evidence: the answer has no {source}, so it cannot show it came from the pinned "
                    f"version {pin.version}")
        return None
    if named != pin.version:
        return (f"answered by version {named} ({source}), not by the pinned version {pin.version}: a stale edge "
                "or an override that was not applied; no evidence about the pinned version")
    return None


def apply_headers(profile_path: Path, pin: VersionPin | None, out_dir: Path) -> Path:
    """The profile file a child process should read: the original, or a copy whose `headers` pin the version
    (the load generator reads its headers from the profile file)."""
    if pin is None or not pin.headers:
        return profile_path
    data = yaml.safe_load(Path(profile_path).read_text(encoding="utf-8"))
    data["headers"] = {**(data.get("headers") or {"X-Synthetic-Check": "synthgate"}), **pin.headers}
    out_dir.mkdir(parents=True, exist_ok=True)
    copy = out_dir / f"profile-pinned-{pin.version}.yaml"
    copy.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return copy


def describe(pin: VersionPin) -> str:
    """One line for progress and reports."""
    heads = ", ".join(f"{k}: {v}" for k, v in pin.headers.items())
    return f"pinned to {pin.version} ({heads or 'no header'})"
