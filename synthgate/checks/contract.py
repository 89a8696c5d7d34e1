"""Contract drift and unverifiable answers: how a failed expectation is reported, never whether it passes.

A check keeps the operators' contract (its runbook's status code, field names). When the app departs from it in
a way the profile knows (`expect.drift`) or that is plain from the answer (a field sent under another naming
convention: `generationsUsed` for `generations_used`), the check still fails, and its message starts with
"contract drift:" and `contract_drift` is true, so reports list drift apart from defects.
When the answer says the check could not be verified from here (`expect.unverifiable`: a rate limit, an outside
service this network cannot reach), the check is `no-data`: inconclusive, neither a pass nor evidence.
"""

from __future__ import annotations

import re
import socket
from functools import lru_cache
from typing import Any

from synthgate.bounded import response_json
from synthgate.checks.outcome import Outcome
from synthgate.http import Exchange
from synthgate.profile.contract import Signature, Unverifiable
from synthgate.profile.model import Expect

DRIFT_PREFIX = "contract drift: "
NOT_VERIFIED_PREFIX = "not verified here: "
_STEP = re.compile(r"^(step \d+ \([^)]*\): )")
_MISSING_FIELD = re.compile(r"^JSON field (\S+) missing$")


def snake(name: str) -> str:
    """generationsUsed -> generations_used; kebab-case too."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).replace("-", "_").lower()


def camel(name: str) -> str:
    """generations_used -> generationsUsed."""
    head, *rest = re.split(r"[_-]", name)
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def renamed_field(data: Any, dotted: str) -> str | None:
    """The key the app sends instead of the missing `dotted` path's last part under another naming convention."""
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, dict):
            alias = next((k for k in node if snake(k) == snake(part)), None)
            if alias is None:
                return None
            node = node[alias]
        else:
            return None
    if not isinstance(node, dict):
        return None
    wanted = snake(last)
    return next((k for k in node if k != last and snake(k) == wanted), None)


def matches(ex: Exchange, sig: Signature) -> bool:
    """Whether the answer has the signature's status and body."""
    r = ex.response
    if r is None:
        return False
    if sig.status is not None and r.status_code not in sig.status:
        return False
    return sig.text_regex is None or re.search(sig.text_regex, r.text) is not None


@lru_cache(maxsize=64)
def host_reachable(host: str, timeout_s: float = 3.0) -> bool:
    """Whether this runner can open a TCP connection to `host` (port 443 unless it says host:port); cached."""
    name, _, port = host.rpartition(":") if host.rpartition(":")[2].isdigit() else (host, "", "443")
    try:
        with socket.create_connection((name, int(port)), timeout=timeout_s):
            return True
    except OSError:
        return False


def _unverifiable(ex: Exchange, rules: list[Unverifiable]) -> Unverifiable | None:
    for rule in rules:
        if matches(ex, rule) and not any(host_reachable(h) for h in rule.needs_hosts):
            return rule
    return None


def apply(outcome: Outcome, ex: Exchange, expect: Expect, failures: list[str]) -> Outcome:
    """Re-word a failed outcome as contract drift or as not verifiable, when the answer says so."""
    if outcome.ok or ex.response is None or not failures:
        return outcome
    status = ex.response.status_code
    rule = _unverifiable(ex, expect.unverifiable)
    if rule is not None:
        prefix = _STEP.match(failures[0])
        where = prefix.group(1) if prefix else ""
        hosts = f" ({', '.join(rule.needs_hosts)} cannot be reached from this runner)" if rule.needs_hosts else ""
        outcome.message = f"{NOT_VERIFIED_PREFIX}{where}{rule.reason}{hosts}; the app answered {status}"
        outcome.kind = "no-data"
        outcome.retryable = False
        outcome.unverifiable = True
        outcome.details = {**outcome.details, "reason": rule.reason}
        return outcome
    data = _json(ex)
    drift_notes: list[str] = []
    defects: list[str] = []
    declared = next((d for d in expect.drift if matches(ex, d)), None)
    for failure in failures:
        prefix = _STEP.match(failure)
        bare = failure[prefix.end():] if prefix else failure
        where = prefix.group(1) if prefix else ""
        missing = _MISSING_FIELD.match(bare)
        alias = renamed_field(data, missing.group(1)) if missing and data is not None else None
        if alias is not None:
            drift_notes.append(f"{where}the contract's field {missing.group(1)} is sent as {alias}")  # type: ignore[union-attr]
        elif declared is not None and bare.startswith("status "):
            drift_notes.append(f"{where}{bare}: {declared.note}")
        else:
            defects.append(failure)
    if not drift_notes:
        return outcome
    if defects:
        outcome.message = "; ".join(defects) + "; also " + DRIFT_PREFIX + "; ".join(drift_notes)
        outcome.details = {**outcome.details, "drift_notes": drift_notes}
    else:
        outcome.message = DRIFT_PREFIX + "; ".join(drift_notes)
        outcome.contract_drift = True
        outcome.details = {**outcome.details, "drift_notes": drift_notes}
    return outcome


def _json(ex: Exchange) -> Any:
    try:
        return response_json(ex.response) if ex.response is not None else None
    except ValueError:
        return None
