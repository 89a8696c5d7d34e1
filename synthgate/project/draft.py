"""A draft profile from what `discover` found, kept only where the smoke checks pass on the deployment today."""

from __future__ import annotations

from typing import Any

from synthgate.checks import smoke
from synthgate.checks.hygiene import ITEMS
from synthgate.profile.model import Profile
from synthgate.project.discover import Discovery, discover

ROUNDS = 3  # verify, leave out what failed, verify again (a left-out page can change the CORS and link checks)


def draft_profile(name: str, base_url: str) -> tuple[dict[str, Any], list[str]]:
    """The profile (as data) and notes for its reader: found, left out and why."""
    found = discover(base_url)
    data = _sections(name, found)
    notes = list(found.notes)
    for _ in range(ROUNDS):
        failures = verify(data, found.base_url)
        if not failures:
            break
        for check_id, message in failures:
            notes.append(f"left out {check_id}: it failed on the deployment when drafted ({message[:140]})")
            _leave_out(data, check_id)
    return data, notes


def _sections(name: str, found: Discovery) -> dict[str, Any]:
    data: dict[str, Any] = {"name": name, "base_url": found.base_url, "headers": {"X-Synthetic-Check": "synthgate"}}
    if found.base_url.startswith("http://"):
        data["tls"] = {"enabled": False}  # plain HTTP: no certificate to look at (an https base URL turns it on)
    if found.health:
        data["health"] = found.health
    if found.routes:
        data["routes"] = found.routes
    if found.pages:
        data["pages"] = found.pages
    if found.journeys:
        data["journeys"] = found.journeys
    if found.openapi:
        # read-only until fuzz.allow_writes: only GET and HEAD operations are sent
        data["fuzz"] = {"openapi": found.openapi, "max_time_s": 30}
    return data


def verify(data: dict[str, Any], base_url: str) -> list[tuple[str, str]]:
    """(check id, message) of every smoke check of the draft that fails on the deployment."""
    profile = Profile.model_validate(data)
    out = []
    for check in smoke.plan(profile):
        result = smoke.execute(check, profile, base_url)
        if not result.final.ok:
            out.append((check.id, result.final.message))
    return out


def _leave_out(data: dict[str, Any], check_id: str) -> None:
    """Drop (or turn to a warning) the profile entry a failed check comes from."""
    kind, _, rest = check_id.partition(":")
    if check_id == data.get("health", {}).get("id", "health"):
        data.pop("health", None)
    elif kind == "page":
        data["pages"] = [p for p in data.get("pages", []) if p["id"] != rest]
    elif kind == "route-exists":
        data["routes"] = [r for r in data.get("routes", []) if f"{r['method']} {r['path']}" != rest]
    elif kind == "cors":
        data.setdefault("security", {})["enabled"] = False
    elif kind == "hygiene":
        item = next((k for k, v in ITEMS.items() if v == rest), None)
        if item:
            data.setdefault("hygiene", {})[item] = "warn"
    elif kind == "tls":
        field = {"http-redirect": "http_redirect", "hsts": "hsts"}.get(rest)
        if field:
            data.setdefault("tls", {})[field] = "warn"
        else:
            data.setdefault("tls", {})["enabled"] = False
    elif check_id == "links":
        data.setdefault("links", {})["enabled"] = False
    for key in ("pages", "routes"):
        if key in data and not data[key]:
            del data[key]
