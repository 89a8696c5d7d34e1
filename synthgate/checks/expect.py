"""Evaluating a response against an Expect: status, JSON fields and types, freshness, headers, text, latency."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from synthgate.bounded import JsonTooDeep, loads_json, response_json
from synthgate.checks.security import body_leaks, is_json_media_type
from synthgate.http import Exchange
from synthgate.profile.model import Expect
from synthgate.redact import redactor

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "number": (int, float), "integer": (int,), "boolean": (bool,),
    "object": (dict,), "array": (list,), "null": (type(None),),
}
MISSING = object()
LATENCY_FAILURE = "took "  # how a latency-budget failure message starts (smoke retries those)


def lookup(data: Any, dotted: str) -> Any:
    """The value at a dotted path (a.b.0.c) in parsed JSON, or MISSING."""
    current = data
    for part in dotted.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current


def parse_timestamp(value: Any) -> datetime | None:
    """An aware datetime from ISO-8601 text or epoch seconds/milliseconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def content_type_matches(got: str, expected: str) -> bool:
    """A prefix match, where an expected application/json also accepts any +json type (RFC 6839)."""
    if got.lower().startswith(expected.lower()):
        return True
    return expected.split(";")[0].strip().lower() == "application/json" and is_json_media_type(got)


def _status_text(statuses: list[int]) -> str:
    if len(statuses) >= 100:
        return f"{statuses[0] // 100}xx"
    return "/".join(str(s) for s in statuses)


def check_response(ex: Exchange, expect: Expect, budget_ms: float | None) -> list[str]:
    """Every way the exchange misses its expectation (an empty list means it passed)."""
    r = ex.response
    if r is None:
        return [ex.error or "no response"]
    failures: list[str] = []
    status = r.status_code
    if expect.status is not None and status not in expect.status:
        failures.append(f"status {status}, expected {_status_text(expect.status)}")
    if status in expect.not_status and (expect.status is None or status not in expect.status):
        hint = " (route not deployed?)" if status == 404 else ""
        failures.append(f"status {status} is never acceptable here{hint}")
    if status >= 500 and expect.status is None:
        failures.append(f"server error {status}")
    ctype = r.headers.get("content-type", "")
    if expect.content_type and not content_type_matches(ctype, expect.content_type):
        failures.append(f"content-type {ctype or '(none)'!r}, expected {expect.content_type}")
    if expect.not_html and "text/html" in ctype:
        failures.append("answered with an HTML page, not the API (static fallback: route not deployed?)")
    text = r.text
    if expect.json_fields or expect.json_types or expect.fresh:
        failures += _check_json(text, expect)
    for name, pattern in expect.headers.items():
        value = r.headers.get(name)
        if value is None:
            failures.append(f"header {name} missing")
        elif not re.search(pattern, value):
            failures.append(f"header {name}: {value!r} does not match {pattern!r}")
    for marker in expect.text or []:
        if marker not in text:
            failures.append(f"body does not contain {marker!r}")
    if expect.text_regex is not None and not re.search(expect.text_regex, text):
        failures.append(f"body does not match {expect.text_regex!r}")
    for forbidden in expect.not_text:
        if forbidden in text:
            failures.append(f"body contains {forbidden!r}")
    failures += body_leaks(text, ctype)
    if budget_ms is not None and ex.duration_ms > budget_ms:
        failures.append(f"{LATENCY_FAILURE}{ex.duration_ms:.0f} ms, over the {budget_ms:.0f} ms budget")
    return failures


def _check_json(text: str, expect: Expect) -> list[str]:
    try:
        data = loads_json(text)
    except JsonTooDeep as exc:
        return [f"body is not JSON we can read: {exc} ({len(text)} characters)"]
    except ValueError:
        return [f"body is not JSON: {text[:80]!r}"]
    failures = []
    for path, wanted in expect.json_fields.items():
        got = lookup(data, path)
        if got is MISSING:
            failures.append(f"JSON field {path} missing")
        elif got != wanted:
            failures.append(f"JSON field {path} = {got!r}, expected {wanted!r}")
    for path, type_name in expect.json_types.items():
        got = lookup(data, path)
        if got is MISSING:
            failures.append(f"JSON field {path} missing")
        elif not isinstance(got, _JSON_TYPES[type_name]) or (
            type_name in ("number", "integer") and isinstance(got, bool)
        ):
            failures.append(f"JSON field {path} is {type(got).__name__}, expected {type_name}")
    now = datetime.now(UTC)
    for path, max_age_s in expect.fresh.items():
        got = lookup(data, path)
        stamp = parse_timestamp(got) if got is not MISSING else None
        if stamp is None:
            failures.append(f"JSON field {path} is not a timestamp: {got if got is not MISSING else 'missing'}")
            continue
        age = (now - stamp).total_seconds()
        if age > max_age_s:
            failures.append(f"JSON field {path} is stale: {age:.0f} s old, limit {max_age_s:.0f} s")
        elif age < -max_age_s:
            failures.append(f"JSON field {path} is {-age:.0f} s in the future")
    return failures


def save_values(ex: Exchange, wanted: dict[str, str], saved: dict[str, Any]) -> list[str]:
    """Save JSON values of a response for later steps; a missing value is a failure of the step."""
    if not wanted:
        return []
    try:
        data = response_json(ex.response) if ex.response is not None else None
    except ValueError:
        return ["body is not JSON: cannot save values for later steps"]
    failures = []
    for name, path in wanted.items():
        value = lookup(data, path)
        if value is MISSING:
            failures.append(f"JSON field {path} missing (needed by a later step as ${{saved.{name}}})")
        else:
            saved[name] = value
            redactor.learn(str(value), f"SAVED_{name}")  # a token saved for later steps is a secret from now on
    return failures
