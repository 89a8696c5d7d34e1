"""What a draft gives up when one of its checks fails on the deployment today, and the note that says so.

Each function changes the draft (profile data) in place and appends a note for the reader: what failed, what
was left out or relaxed, and how to tighten it again. A relaxation never hides more than the failing item.
"""

from __future__ import annotations

import math
import re
from typing import Any

from synthgate.checks.hygiene import ITEMS as HYGIENE_ITEMS
from synthgate.results import CheckResult, StageResult

_BROKEN = re.compile(r"GET (/\S*)(?: answered (\d{3})|: no answer)")
_AXE_RULE = re.compile(r"(?:^|[:;] )([a-z0-9-]+) \((?:critical|serious|moderate|minor)\)")


def _short(message: str, n: int = 140) -> str:
    message = " ".join(message.split())
    return message if len(message) <= n else message[: n - 3] + "..."


def relax(data: dict[str, Any], stage: str, check: CheckResult, notes: list[str]) -> bool:
    """Leave out or relax the draft entry the failed check comes from; False when nothing could be changed."""
    fn = {"smoke": _smoke, "e2e": _e2e, "fuzz": _fuzz, "load": _load}[stage]
    return fn(data, check, notes)


def _smoke(data: dict[str, Any], check: CheckResult, notes: list[str]) -> bool:
    cid, why = check.id, _short(check.message)
    kind, _, rest = cid.partition(":")
    if data.get("health") and cid == data["health"].get("id", "health"):
        data.pop("health")
        notes.append(f"left out health ({why}); add `health:` back once the endpoint answers as expected")
    elif kind == "page":
        data["pages"] = [p for p in data.get("pages", []) if p["id"] != rest]
        notes.append(f"left out page {rest} ({why}); add it under `pages:` once it answers as expected")
    elif kind == "route-exists":
        data["routes"] = [r for r in data.get("routes", []) if f"{r['method']} {r['path']}" != rest
                          and r.get("id") != cid]
        notes.append(f"left out route {rest} ({why})")
    elif any(c.get("id") == cid for c in data.get("checks", [])):
        data["checks"] = [c for c in data["checks"] if c.get("id") != cid]
        notes.append(f"left out check {cid} ({why})")
    elif kind == "cors":
        data.setdefault("security", {})["enabled"] = False
        notes.append(f"security (CORS) checks off: {cid} failed ({why}); set security.enabled: true once fixed")
    elif kind == "hygiene":
        item = next((k for k, v in HYGIENE_ITEMS.items() if v == rest), None)
        if item is None or data.setdefault("hygiene", {}).get(item) == "warn":
            return False
        data["hygiene"][item] = "warn"
        notes.append(f"hygiene.{item}: warn, not fail: the app does not meet it today ({why}); "
                     f"set it to fail once it does")
    elif kind == "tls":
        field = {"http-redirect": "http_redirect", "hsts": "hsts"}.get(rest)
        if field:
            data.setdefault("tls", {})[field] = "warn"
        else:
            data.setdefault("tls", {})["enabled"] = False
        notes.append(f"tls: {rest} relaxed ({why})")
    elif cid == "links":
        return _links(data, check, notes)
    elif kind == "cold-start":
        defaults = data.setdefault("defaults", {})
        if defaults.get("cold_budget_ms", 0) >= 10_000:
            return False
        defaults["cold_budget_ms"] = 10_000
        notes.append(f"defaults.cold_budget_ms: 10000: {cid} failed the default 3000 ms ({why})")
    else:
        return False
    for key in ("pages", "routes", "checks"):
        if key in data and not data[key]:
            del data[key]
    return True


def _links(data: dict[str, Any], check: CheckResult, notes: list[str]) -> bool:
    """Broken links are ignored one by one (never the whole check); one that wants credentials is a check."""
    links = data.setdefault("links", {})
    ignore: list[str] = links.setdefault("ignore", [])
    added = []
    for path, status in _BROKEN.findall(check.message):
        pattern = "^" + re.escape(path) + "$"
        if pattern in ignore:
            continue
        ignore.append(pattern)
        added.append(f"{path} ({status or 'no answer'})")
        if status in ("401", "403") and "?" not in path:
            add_requires_auth(data, path, int(status))
    if not added:
        return False
    notes.append(f"links.ignore: {len(added)} link(s) that fail today: {', '.join(added[:8])}"
                 f"{' ...' if len(added) > 8 else ''}; remove each entry once its target answers")
    return True


def add_requires_auth(data: dict[str, Any], path: str, status: int) -> None:
    """A `requires-auth:<path>` check: without credentials the route refuses (401/403), never serves."""
    cid = "requires-auth:" + (re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-").lower() or "root")
    checks = data.setdefault("checks", [])
    if any(c["id"] == cid for c in checks):
        return
    checks.append({"id": cid, "description": f"{path} answered {status} without credentials: it must stay closed",
                   "request": {"path": path, "follow_redirects": False}, "expect": {"status": [401, 403]}})


def _e2e(data: dict[str, Any], check: CheckResult, notes: list[str]) -> bool:
    journey_id, _, step = check.id.partition(".")
    journeys = data.get("journeys", [])
    journey = next((j for j in journeys if j["id"] == journey_id), None)
    why = _short(check.message)
    if journey is None:  # e2e.browser or a crash: nothing to run the journeys in
        data.pop("journeys", None)
        notes.append(f"left out the journeys: {check.id} ({why})")
        return True
    if step == "a11y":
        rules = check.a11y_rules_failing
        rules = rules or _AXE_RULE.findall(check.message)
        a11y = data.setdefault("e2e", {}).setdefault("a11y", {})
        ignored = a11y.setdefault("ignore_rules", [])
        new = [r for r in dict.fromkeys(rules) if r not in ignored]
        if not new:
            journey["a11y"] = False
            notes.append(f"journey {journey_id}: a11y: false ({why}); turn it on once the page is fixed")
            return True
        ignored += new
        notes.append(f"e2e.a11y.ignore_rules: {', '.join(new)}: the app's pages break them today ({why}); "
                     "remove each rule once its pages are fixed")
        return True
    if "text" in step and journey.get("expect_text"):
        journey.pop("expect_text")
        notes.append(f"journey {journey_id}: expect_text left out ({why})")
        return True
    data["journeys"] = [j for j in journeys if j["id"] != journey_id]
    if not data["journeys"]:
        del data["journeys"]
    notes.append(f"left out journey {journey_id}: {check.id} failed ({why})")
    return True


def _fuzz(data: dict[str, Any], check: CheckResult, notes: list[str]) -> bool:
    fuzz = data.get("fuzz")
    if fuzz is None:
        return False
    key = check.id.removeprefix("fuzz.").split("#")[0]
    ops: list[str] = fuzz.get("openapi_operations", [])
    kept = [op for op in ops if not same_operation(op, key)]
    if key == "openapi" or not ops or len(kept) == len(ops):
        data.pop("fuzz")
        notes.append(f"left out fuzz: {check.id} failed ({_short(check.message)})")
        return True
    fuzz["openapi_operations"] = kept
    dropped = next(op for op in ops if same_operation(op, key))
    notes.append(f"fuzz: {dropped} left out of openapi_operations: {_short(check.message)}; add it back once fixed")
    if not kept:
        data.pop("fuzz")
    return True


def same_operation(label: str, key: str) -> bool:
    """Whether a fuzz check key names the operation (its path may carry the document's base path first)."""
    own = operation_key(label)
    method, _, rest = own.partition("-")
    return key == own or (key.startswith(method + "-") and key.endswith("-" + rest))


def operation_key(label: str) -> str:
    """The fuzz check key of an operation `METHOD /path` (as FuzzEndpoint.key names it)."""
    method, _, path = label.partition(" ")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-") or "root"
    return f"{method.lower()}-{slug}"


def _load(data: dict[str, Any], check: CheckResult, notes: list[str]) -> bool:
    load = data.get("load")
    if load is None:
        return False
    task = check.load_task or (check.id.split("[", 1)[1].rstrip("]") if "[" in check.id else None)
    if task:
        kept = [t for t in load["tasks"] if f"{t.get('method', 'GET')} {t['path']}" != task]
        if len(kept) < len(load["tasks"]):
            load["tasks"] = kept
            notes.append(f"load: task {task} left out ({_short(check.message)})")
            if not kept:
                data.pop("load")
            return True
    return False


def drop_stage(data: dict[str, Any], stage: str, notes: list[str]) -> None:
    """A stage still failing after every relaxation is left out whole."""
    key = {"e2e": "journeys", "fuzz": "fuzz", "load": "load"}.get(stage)
    if key and key in data:
        data.pop(key)
        notes.append(f"left out {key}: the {stage} stage still failed after relaxing what failed")


def measured_load(data: dict[str, Any], result: StageResult, notes: list[str], headroom: float,
                  floor_ms: float) -> None:
    """Thresholds from what the trial load measured: its P95 times the headroom, a 1 % error budget."""
    load = data.get("load")
    p95 = next((c for c in result.checks if c.id == "load.p95"), None)
    measured = p95.measured if p95 is not None else None
    if load is None or measured is None:
        return
    limit = max(floor_ms, math.ceil(measured * headroom / 100) * 100)
    load["thresholds"] = {"p95_ms": limit, "error_rate": 0.01}
    notes[:] = [n for n in notes if not n.startswith("load: ")] + [
        f"load: P95 {measured:.0f} ms when drafted at {load.get('arrival_rate', 0):g} req/s; p95_ms {limit:g} "
        f"leaves {headroom:g}x headroom: tighten it (and raise the rate) once you know the app's budget"]
