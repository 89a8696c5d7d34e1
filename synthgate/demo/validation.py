"""Request-body validation against the contract's declarations (the same ones /openapi.json is built from)."""

from __future__ import annotations

import json
from typing import Any

from synthgate.demo import faults
from synthgate.demo.contract import EMAIL_RE, RequestBody
from synthgate.demo.messages import Req


class BadRequest(Exception):
    """The request body is not what the endpoint accepts; the message is safe to show."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(req: Req) -> dict[str, Any]:
    """The body as a JSON object; BadRequest for anything else (empty, non-UTF-8, huge, malformed)."""
    if req.body_too_large:
        raise BadRequest("request body too large")
    if not req.body:
        raise BadRequest("request body must be a JSON object")
    try:
        data = json.loads(req.body.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise BadRequest("malformed JSON body") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    return data


def check_string(data: dict[str, Any], name: str, bounds: tuple[int, int]) -> str:
    """`data[name]` if it is a string within `bounds` (length as sent: no trimming, so the server agrees with the
    schema); BadRequest naming the field otherwise."""
    if name not in data:
        raise BadRequest(f"{name} is required")
    value = data[name]
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    low, high = bounds
    if len(value) < low:
        raise BadRequest(f"{name} must not be empty" if low == 1 else f"{name} must be at least {low} characters")
    if len(value) > high:
        raise BadRequest(f"{name} must be at most {high} characters")
    return value


def check_body(body: RequestBody, data: dict[str, Any]) -> dict[str, str]:
    """The declared fields of `data`, checked in order: every string's length, then emails, then choices."""
    fields = {name: check_string(data, name, bounds) for name, bounds in body.strings.items()}
    for name in body.emails:
        if not EMAIL_RE.fullmatch(fields[name]):
            raise BadRequest(f"{name} is not a valid email address")
    for name, choices in body.choices.items():
        if name not in data:
            raise BadRequest(f"{name} is required")
        if data[name] not in choices:  # `in` on a tuple of str: non-strings simply do not match
            raise BadRequest(f"{name} must be one of {', '.join(choices)}")
        fields[name] = data[name]
    return fields


def crash_on_bad_input(data: dict[str, Any], names: list[str]) -> None:
    """The `crash-on-bad-input` bug: normalise fields before validating them."""
    for name in names:
        if name in data:
            value = data[name]
            normalised = value.strip()  # AttributeError on non-strings: the crash this fault is about
            if len(normalised) > faults.CRASH_STRING_LENGTH:
                raise OverflowError(f"{name} overflows the fixed-size buffer")
