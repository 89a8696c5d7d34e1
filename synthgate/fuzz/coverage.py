"""The coverage phase: before any random input, every declared field and parameter gets each boundary and class
of input once, deterministically (the same requests, in the same order, on every run).

For each body field: length and value limits and one past them, empty, null, missing, each wrong type, a
`huge_length` string, each unicode class, an invalid email or enum value; for the body as a whole: empty,
`{}`, every malformed-JSON and not-an-object shape, other content types, and each extra field; for path and
query parameters the classes a URL can carry. Every other field keeps a minimal valid value, so a failure
names the one input that caused it. A failing length class is shrunk to the shortest length that still fails
the same way, so its curl repro is as small as the defect allows.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from synthgate.fuzz.strategies import (
    EDGE_NUMBERS,
    EMAIL_INVALID,
    EXTRA_FIELDS,
    JSON_TYPE,
    MALFORMED,
    NOT_AN_OBJECT,
    OTHER_CONTENT_TYPES,
    UNICODE_SAMPLES,
    URL_PART_LIMIT,
    WRONG_TYPES,
    Kind,
    Probe,
    classify_number,
    classify_string,
    dump_json,
    fill_path,
    lenient,
    param_text,
)
from synthgate.profile.fuzz import FuzzEndpoint, FuzzField

HUGE = "huge_length"
# Classes whose value is a run of one character: a failure shrinks by bisecting that length.
LENGTH_CLASSES = frozenset({HUGE, "max_length+1"})
_FORMAT_VALUES = {"email": "synthgate@example.com", "uuid": "00000000-0000-4000-8000-000000000000",
                  "date": "2024-01-01", "date-time": "2024-01-01T00:00:00Z", "uri": "https://example.com/a"}


def minimal_value(f: FuzzField) -> Any:
    """The plainest value the declaration accepts (deterministic)."""
    if f.enum is not None:
        return f.enum[0]
    if f.type == "string":
        if f.format is not None:
            return _FORMAT_VALUES[f.format]
        if f.pattern is not None:
            return _pattern_example(f.pattern)
        return "a" * max(f.min_length or 0, 1)
    if f.type in ("integer", "number"):
        low = f.minimum if f.minimum is not None else None
        high = f.maximum if f.maximum is not None else None
        value: float = 0 if low is None or low <= 0 <= (high if high is not None else math.inf) else low
        if high is not None and value > high:
            value = high
        return math.ceil(value) if f.type == "integer" else float(value)
    if f.type == "boolean":
        return False
    if f.type == "object":
        return minimal_object(f.properties)
    return []


@functools.lru_cache(maxsize=256)  # deterministic, and asked for once per probe built: a Hypothesis search each
def _pattern_example(pattern: str) -> str:
    """The simplest string matching a field's pattern: Hypothesis' shrunk example, so always the same."""
    from hypothesis import HealthCheck, find, settings
    from hypothesis import strategies as st

    strategy = st.from_regex(pattern, fullmatch=True)
    try:
        return str(find(strategy, lambda _: True, settings=settings(database=None, derandomize=True,
                                                                   suppress_health_check=list(HealthCheck))))
    except Exception:  # noqa: BLE001 - an unsatisfiable pattern: any string is as good a base as another
        return "a"


def minimal_object(fields: dict[str, FuzzField]) -> dict[str, Any]:
    """An object with every required member at its minimal valid value."""
    return {name: minimal_value(f) for name, f in fields.items() if f.required}


@dataclass(frozen=True)
class FieldCase:
    """One class of value for one field: its class name, label, the value (or `MISSING`) and its kind."""

    input_class: str
    label: str
    value: Any
    kind: Kind


MISSING = object()


def field_cases(f: FuzzField, huge: int, name: str) -> list[FieldCase]:
    """Every class of value for one body field, in a fixed order, judged with the field's leniency."""
    return _lenient(f, _field_cases(f, huge, name))


def _lenient(f: FuzzField, cases: list[FieldCase]) -> list[FieldCase]:
    return [replace(c, kind=lenient(f, c.kind, None if c.value is MISSING else c.value, missing=c.value is MISSING))
            for c in cases]


def _field_cases(f: FuzzField, huge: int, name: str) -> list[FieldCase]:
    out: list[FieldCase] = []
    if f.required:
        out.append(FieldCase("missing", f"{name} missing", MISSING, "invalid"))
    else:
        out.append(FieldCase("present", f"{name} present", minimal_value(f), "valid"))
    out.append(FieldCase("null", f"{name}: null", None, "valid" if f.nullable else "invalid"))
    for type_name, value in WRONG_TYPES[f.type]:
        out.append(FieldCase(f"wrong_type:{type_name}", f"{name}: {type_name} instead of {f.type}", value, "invalid"))
    if f.type == "string":
        out += _string_cases(f, huge, name)
    elif f.type in ("integer", "number"):
        out += _number_cases(f, name)
    elif f.type == "array":
        out.append(FieldCase("empty_array", f"{name}: empty array", [], "edge"))
        out.append(FieldCase("long_array", f"{name}: array of 5000 items", ["a"] * 5000, "edge"))
    return out


def _string_cases(f: FuzzField, huge: int, name: str) -> list[FieldCase]:
    out: list[FieldCase] = []
    if f.enum is not None:
        out.append(FieldCase("not_in_enum", f"{name}: 'synthgate-not-an-option', not one of the enum",
                             "synthgate-not-an-option", "invalid"))
        return out
    if f.min_length:
        out.append(FieldCase("min_length-1", f"{name}: {f.min_length - 1} characters, below min_length "
                             f"{f.min_length}", "a" * (f.min_length - 1), "invalid"))
    if f.min_length is not None and f.format is None and f.pattern is None:
        out.append(FieldCase("min_length", f"{name}: {f.min_length} characters (min_length)",
                             "a" * max(f.min_length, 1), "valid"))
    if f.max_length is not None and f.format is None and f.pattern is None:
        out.append(FieldCase("max_length", f"{name}: {f.max_length} characters (max_length)",
                             "a" * f.max_length, "valid" if f.max_length >= max(f.min_length or 0, 1) else "edge"))
    if f.max_length is not None:
        out.append(FieldCase("max_length+1", f"{name}: {f.max_length + 1} characters, above max_length "
                             f"{f.max_length}", "a" * (f.max_length + 1), "invalid"))
    out.append(FieldCase("empty", f"{name}: empty string", "", classify_string(f, "")))
    text = "A" * huge
    out.append(FieldCase(HUGE, f"{name}: {huge}-character string", text, classify_string(f, text)))
    for cls, sample in UNICODE_SAMPLES.items():
        value = sample + "a" * max(0, (f.min_length or 0) - len(sample))
        out.append(FieldCase(f"unicode:{cls}", f"{name}: {cls} string", value, classify_string(f, value)))
    if f.format == "email":
        out.append(FieldCase("not_an_email", f"{name}: {EMAIL_INVALID[0]!r}, not an email address",
                             EMAIL_INVALID[0], "invalid"))
    return out


def _number_cases(f: FuzzField, name: str) -> list[FieldCase]:
    out: list[FieldCase] = []
    as_type = int if f.type == "integer" else float
    if f.minimum is not None:
        out.append(FieldCase("minimum", f"{name}: {f.minimum!r} (minimum)", as_type(f.minimum), "valid"))
        out.append(FieldCase("minimum-1", f"{name}: below minimum {f.minimum!r}", as_type(f.minimum - 1), "invalid"))
    if f.maximum is not None:
        out.append(FieldCase("maximum", f"{name}: {f.maximum!r} (maximum)", as_type(f.maximum), "valid"))
        out.append(FieldCase("maximum+1", f"{name}: above maximum {f.maximum!r}", as_type(f.maximum + 1), "invalid"))
    if f.type == "integer":
        out.append(FieldCase("not_an_integer", f"{name}: 0.5, not an integer", 0.5, "invalid"))
    for value in EDGE_NUMBERS:
        out.append(FieldCase(f"edge_number:{value!r}", f"{name}: number at the edge {value!r}", value,
                             classify_number(f, value)))
    return out


def _body_probe(endpoint: FuzzEndpoint, path: str, headers: dict[str, str], kind: Kind, label: str,
                input_class: str, target: str, body: bytes | None, ctype: str | None, data: Any = None) -> Probe:
    all_headers = dict(headers)
    if ctype:
        all_headers["Content-Type"] = ctype
    return Probe(kind=kind, label=label, method=endpoint.method, path=path, headers=all_headers, body=body,
                 data=data, input_class=input_class, target=target)


def probes(endpoint: FuzzEndpoint, huge: int, headers: dict[str, str] | None = None) -> list[Probe]:
    """Every coverage-phase request of an endpoint, in a fixed order (the valid base request first)."""
    headers = dict(headers or {})
    path_base = minimal_object(endpoint.path_params)
    query_base = {k: param_text(v) for k, v in minimal_object(endpoint.query).items()}
    path = fill_path(endpoint.path, path_base)
    out: list[Probe] = []
    if endpoint.body is not None:
        fields = endpoint.body
        base = minimal_object(fields)
        out.append(_body_probe(endpoint, path, headers, "valid", "valid body", "valid", "",
                               dump_json(base), JSON_TYPE, base))
        for name, f in fields.items():
            for case in field_cases(f, huge, name):
                body = dict(base)
                if case.value is MISSING:
                    body.pop(name, None)
                else:
                    body[name] = case.value
                out.append(_body_probe(endpoint, path, headers, case.kind, case.label, case.input_class, name,
                                       dump_json(body), JSON_TYPE, body))
        out += _whole_body_probes(endpoint, path, headers, base)
        for p in out:
            p.query = dict(query_base)
    else:
        out.append(Probe(kind="valid", label="valid parameters", method=endpoint.method, path=path,
                         query=dict(query_base), headers=headers, input_class="valid"))
    out += _param_probes(endpoint, huge, headers, path_base, query_base, endpoint.body is not None)
    return out


def _whole_body_probes(endpoint: FuzzEndpoint, path: str, headers: dict[str, str],
                       base: dict[str, Any]) -> list[Probe]:
    fields = endpoint.body or {}
    required = any(f.required for f in fields.values())
    out = [_body_probe(endpoint, path, headers, "invalid", "empty body", "empty_body", "", b"", JSON_TYPE)]
    if required:
        out.append(_body_probe(endpoint, path, headers, "invalid", "empty JSON object", "empty_object", "",
                               b"{}", JSON_TYPE, {}))
    for label, raw in NOT_AN_OBJECT:
        out.append(_body_probe(endpoint, path, headers, "invalid", f"{label} instead of an object",
                               f"not_an_object:{label}", "", raw, JSON_TYPE))
    for label, raw in MALFORMED:
        out.append(_body_probe(endpoint, path, headers, "invalid", f"malformed JSON ({label})",
                               f"malformed:{label}", "", raw, JSON_TYPE))
    other: Kind = "invalid" if endpoint.strict_content_type else "edge"
    for ctype in OTHER_CONTENT_TYPES:
        out.append(_body_probe(endpoint, path, headers, other, f"JSON body sent as {ctype or 'no content type'}",
                               f"content_type:{ctype or 'none'}", "", dump_json(base), ctype))
    extra_kind: Kind = {"accept": "valid", "reject": "invalid", "any": "edge"}[endpoint.extra_fields]  # type: ignore[assignment]
    for name, value in EXTRA_FIELDS:
        key = f"synthgate_{name}" if name in fields else name
        body = {**base, key: value}
        out.append(_body_probe(endpoint, path, headers, extra_kind, f"undeclared field {key!r}",
                               f"extra_field:{key}", key, dump_json(body), JSON_TYPE, body))
    return out


def _param_probes(endpoint: FuzzEndpoint, huge: int, headers: dict[str, str], path_base: dict[str, Any],
                  query_base: dict[str, str], has_body: bool) -> list[Probe]:
    """Each class of value for each path and query parameter (the body, if any, stays the minimal valid one)."""
    body: bytes | None = None
    data: Any = None
    all_headers = dict(headers)
    if has_body:
        data = minimal_object(endpoint.body or {})
        body = dump_json(data)
        all_headers["Content-Type"] = JSON_TYPE
    out: list[Probe] = []
    huge = min(huge, URL_PART_LIMIT)
    params = [("path", n, f) for n, f in endpoint.path_params.items()]
    params += [("query", n, f) for n, f in endpoint.query.items()]
    for where, name, f in params:
        for case in _param_field_cases(f, huge, name, where):
            path_values, query = dict(path_base), dict(query_base)
            if where == "path":
                path_values[name] = case.value
            elif case.value is MISSING:
                query.pop(name, None)
            else:
                query[name] = param_text(case.value)
            out.append(Probe(kind=case.kind, label=f"{where} parameter {case.label}", method=endpoint.method,
                             path=fill_path(endpoint.path, path_values), query=query, headers=dict(all_headers),
                             body=body, data=data, path_mutated=where == "path", input_class=case.input_class,
                             target=name))
    query = {**query_base, "synthgate_extra": "1"}
    out.append(Probe(kind="edge", label="undeclared query parameter", method=endpoint.method,
                     path=fill_path(endpoint.path, path_base), query=query, headers=dict(all_headers), body=body,
                     data=data, input_class="extra_query_parameter"))
    return out


def _param_field_cases(f: FuzzField, huge: int, name: str, where: str) -> list[FieldCase]:
    cases = _param_classes(f, huge, name, where)
    # in a URL every value is text: leniency compares what travels
    return _lenient(f, [c if c.value is MISSING else replace(c, value=param_text(c.value)) for c in cases])


def _param_classes(f: FuzzField, huge: int, name: str, where: str) -> list[FieldCase]:
    out: list[FieldCase] = []
    if where == "query":
        kind: Kind = "invalid" if f.required else "valid"
        out.append(FieldCase("missing", f"{name} missing", MISSING, kind))
    if f.type in ("integer", "number"):
        out.append(FieldCase("wrong_type:string", f"{name}: 'abc' instead of a number", "abc", "invalid"))
        out += [c for c in _number_cases(f, name) if not c.input_class.startswith("edge_number")]
        return out
    if f.type == "boolean":
        out.append(FieldCase("wrong_type:string", f"{name}: 'maybe' instead of a boolean", "maybe", "invalid"))
        return out
    for case in _string_cases(f, huge, name):
        if where == "path" and case.value == "":
            # an empty path segment names another route (`/api/campaign/` is not `/api/campaign/{id}`), whatever
            # class made it (empty, min_length-1): no input of this endpoint, so it is not sent (real-apps lesson)
            continue
        out.append(case)
    return out


def shrink_length(probe: Probe, fails: Callable[[Probe], bool], floor: int) -> Probe:
    """The shortest version of a failing length-class probe that still fails the same way (bisection)."""
    if probe.input_class not in LENGTH_CLASSES or probe.data is None or not probe.target:
        return probe
    value = probe.data.get(probe.target) if isinstance(probe.data, dict) else None
    if not isinstance(value, str) or len(value) <= floor:
        return probe
    low, high = floor, len(value)  # invariant: `high` fails; `low` is not known to fail
    best = probe
    while high - low > 1:
        mid = (low + high) // 2
        candidate = with_length(probe, mid)
        if fails(candidate):
            high, best = mid, candidate
        else:
            low = mid
    return best


def with_length(probe: Probe, length: int) -> Probe:
    """The probe with its target field's string cut to `length` characters."""
    assert isinstance(probe.data, dict)
    data = {**probe.data, probe.target: probe.data[probe.target][:length]}
    return replace(probe, data=data, body=dump_json(data),
                   label=f"{probe.target}: {length}-character string (shrunk from the {probe.input_class} class)")
