"""Hypothesis strategies from declared fields: valid inputs, every kind of invalid input, and edge cases.

Every generated request is a `Probe` that says what it is: `valid` (must get a success status), `invalid`
(must be rejected with a 4xx JSON error) or `edge` (unusual but not clearly invalid: unicode, huge strings
without a declared limit, another content type; either answer is fine, a 5xx is not). Strategies are ordered
simplest first, so Hypothesis shrinks a failure towards the plainest input that still breaks a property.
"""

from __future__ import annotations

import json
import math
import re
import string
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from synthgate.profile.fuzz import FuzzEndpoint, FuzzField

Kind = Literal["valid", "invalid", "edge"]
JSON_TYPE = "application/json"

# Letters every server counts the same way (one UTF-16 unit, one code point), without whitespace, so a
# server that trims or counts UTF-16 units agrees with the declared lengths.
SAFE_ALPHABET = string.ascii_letters + string.digits + "éüßçñøåÆ中文字日本語한국어"

UNICODE_SAMPLES: dict[str, str] = {
    "CJK": "漢字テスト한국어",
    "emoji": "😀👍🏽👨‍👩‍👧🏳️‍🌈",
    "right-to-left": "مرحبا \u202eevil\u202c שלום",
    "control characters": "a\x00b\x07c\x1b[31md\x7f",
    "zero-width characters": "\u200b\u200c\u200d\ufeff",
    "combining marks": "e\u0301\u0302\u0303Z\u0336\u0337",
    "lone surrogate": "\ud800",
    "line breaks": "line1\r\nline2\n\tend",
    "markup": "<script>alert(1)</script>",
    "SQL quote": "' OR '1'='1'; --",
    "path traversal": "../../../../etc/passwd",
    "format directives": "%s%n{0}${jndi:ldap://x}",
}
HUGE_CHUNKS = {"ASCII": "A", "CJK": "漢", "emoji": "😀", "mixed": "ab 漢😀 "}
# Numbers where parsers and integer types break.
EDGE_NUMBERS: list[int | float] = [0, -1, 2**31 - 1, 2**31, 2**53 + 1, 2**63, -(2**63) - 1, 2**64, 1e308, -1e308,
                                   5e-324, -0.0]
WRONG_TYPES: dict[str, list[tuple[str, Any]]] = {
    "string": [("integer", 12345), ("number", 1.5), ("boolean", True), ("array", ["a"]), ("object", {"a": "b"})],
    "integer": [("string", "12"), ("number", 1.5), ("boolean", True), ("array", [1]), ("object", {"v": 1})],
    "number": [("string", "1.5"), ("boolean", False), ("array", [1.5]), ("object", {})],
    "boolean": [("string", "true"), ("integer", 1), ("array", [True]), ("object", {})],
    "object": [("string", "{}"), ("array", []), ("integer", 0), ("boolean", True)],
    "array": [("string", "[]"), ("object", {}), ("integer", 0)],
}
EXTRA_FIELDS: list[tuple[str, Any]] = [("synthgate_extra", "x"), ("__proto__", {"isAdmin": True}),
                                       ("constructor", {"prototype": {}}), ("isAdmin", True), ("id", 1)]
NOT_AN_OBJECT: list[tuple[str, bytes]] = [("JSON array", b"[]"), ("JSON string", b'"text"'), ("JSON number", b"42"),
                                          ("JSON null", b"null"), ("JSON true", b"true")]
MALFORMED: list[tuple[str, bytes]] = [
    ("unclosed object", b'{"a": 1'), ("trailing comma", b'{"a": 1,}'), ("single quotes", b"{'a': 1}"),
    ("unquoted key", b"{a: 1}"), ("NaN literal", b'{"a": NaN}'), ("Infinity literal", b'{"a": Infinity}'),
    ("comment", b'{"a": 1 /* c */}'), ("invalid UTF-8", b'{"a": "\xff\xfe"}'), ("bare word", b"undefined"),
    ("two objects", b"{}{}"), ("deeply nested arrays", b"[" * 5000 + b"]" * 5000),
]
OTHER_CONTENT_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=synthgate",
                       "application/xml", None]
EMAIL_INVALID = ["plainaddress", "missing-at.example.com", "@example.com", "two@@example.com", "user@"]
# Huge URL parts stay far below the client's 64 KiB URL limit even percent-encoded (9 bytes a character).
URL_PART_LIMIT = 1_500


@dataclass
class Probe:
    """One generated request, and what kind of input it is."""

    kind: Kind
    label: str
    method: str
    path: str  # with path parameters filled in and percent-encoded
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    data: Any = None  # the JSON value sent, for flows that compare what reads back
    path_mutated: bool = False  # a path parameter was mutated: 404 is a fair answer
    input_class: str = ""  # the coverage phase's class of this input (e.g. huge_length), "" for random ones
    target: str = ""  # the field or parameter the class applies to, "" for whole-request classes

    def __repr__(self) -> str:
        body = "" if self.body is None else f", body={self.body[:200]!r}" + ("..." if len(self.body) > 200 else "")
        path = self.path if len(self.path) <= 200 else self.path[:200] + "..."
        return f"Probe({self.kind}: {self.label}; {self.method} {path}{body})"


def dump_json(value: Any) -> bytes:
    """JSON bytes as a client sends them: UTF-8, non-ASCII kept, lone surrogates escaped."""
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate cannot be UTF-8; \ud800 escapes are valid JSON
        return json.dumps(value).encode("ascii")


# ---- single values ----------------------------------------------------------------------------


def _bounded_text(low: int, high: int, alphabet: str = SAFE_ALPHABET) -> st.SearchStrategy[str]:
    text = st.text(alphabet=alphabet, min_size=low, max_size=high)
    # the boundaries themselves, where off-by-one validation lives
    return st.one_of(text, st.just(alphabet[0] * low), st.just(alphabet[-1] * high))


def _email(f: FuzzField) -> st.SearchStrategy[str]:
    part = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=12)
    tld = st.sampled_from(["com", "org", "dev", "io"])
    email = st.builds(lambda a, b, t: f"{a}@{b}.{t}", part, part, tld)
    return email.filter(lambda s: _length_ok(f, s))


def _length_ok(f: FuzzField, s: str) -> bool:
    return (f.min_length is None or len(s) >= f.min_length) and (f.max_length is None or len(s) <= f.max_length)


_AS_KIND: dict[str, Kind] = {"reject": "invalid", "accept": "valid", "any": "edge"}


def is_blank(value: Any) -> bool:
    """"" or whitespace only."""
    return isinstance(value, str) and not value.strip()


def lenient(f: FuzzField, kind: Kind, value: Any, missing: bool = False) -> Kind:
    """The kind of an input after the field's declared leniency (`blank`, `missing`, `also_valid`)."""
    if missing:
        return _AS_KIND[f.missing] if f.missing is not None and kind != "valid" else kind
    if any(value == v and type(value) is type(v) for v in f.also_valid) or (
            isinstance(value, str) and any(param_text(v) == value for v in f.also_valid)):
        return "valid"
    if is_blank(value) and f.blank is not None:
        return _AS_KIND[f.blank]
    return kind


def valid_value(f: FuzzField) -> st.SearchStrategy[Any]:
    """Values the field's declaration accepts, boundaries included (and the values the app also accepts)."""
    strategy = _valid_non_null(f)
    if f.also_valid:
        strategy = st.one_of(strategy, st.sampled_from(f.also_valid))
    if f.blank == "accept":
        strategy = st.one_of(strategy, st.just(""))
    return st.one_of(strategy, st.none()) if f.nullable else strategy


def _valid_non_null(f: FuzzField) -> st.SearchStrategy[Any]:
    if f.enum is not None:
        return st.sampled_from(f.enum)
    if f.type == "string":
        if f.format == "email":
            return _email(f)
        if f.format == "uuid":
            return st.uuids().map(str)
        if f.format == "date":
            return st.dates().map(lambda d: d.isoformat())
        if f.format == "date-time":
            return st.datetimes().map(lambda d: d.isoformat(timespec="seconds") + "Z")
        if f.format == "uri":
            return st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=20).map(lambda s: f"https://example.com/{s}")
        if f.pattern is not None:
            pattern = re.compile(f.pattern)
            if pattern.fullmatch("synthgate@example.com"):
                # an email pattern: plain addresses are far cheaper to draw than from_regex, and still match
                return _email(f).filter(lambda s: pattern.fullmatch(s) is not None)
            return st.from_regex(f.pattern, fullmatch=True).filter(lambda s: _length_ok(f, s))
        # A required string without a declared minimum: "" is schema-valid but many apps refuse it (edge).
        low = max(f.min_length or 0, 1)
        high = f.max_length if f.max_length is not None else low + 60
        return _bounded_text(low, max(low, high))
    if f.type == "integer":
        low = math.ceil(f.minimum) if f.minimum is not None else -(2**31)
        high = math.floor(f.maximum) if f.maximum is not None else 2**31 - 1
        return st.one_of(st.integers(low, high), st.just(low), st.just(high))
    if f.type == "number":
        low = f.minimum if f.minimum is not None else -1e9
        high = f.maximum if f.maximum is not None else 1e9
        return st.one_of(st.floats(low, high, allow_nan=False, allow_infinity=False), st.just(low), st.just(high))
    if f.type == "boolean":
        return st.booleans()
    if f.type == "object":
        return valid_object(f.properties)
    items = f.items or FuzzField(type="string", min_length=1, max_length=20)
    return st.lists(valid_value(items), max_size=f.max_items)


def valid_object(fields: dict[str, FuzzField]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with every required member and any of the optional ones, each valid."""
    required = {name: valid_value(f) for name, f in fields.items() if f.required}
    optional = {name: valid_value(f) for name, f in fields.items() if not f.required}
    return st.fixed_dictionaries(required, optional=optional)


def classify_string(f: FuzzField, s: str) -> Kind:
    """How a server following the declaration must treat the string `s` (never "valid": unusual is edge)."""
    if f.type != "string":
        return "invalid"
    if f.enum is not None:
        return "valid" if s in f.enum else "invalid"
    code_points = len(s)
    utf8 = len(s.encode("utf-8", "surrogatepass"))
    # Too long or too short however the server counts (code points, UTF-16 units, bytes): clearly invalid.
    if f.max_length is not None and code_points > f.max_length:
        return "invalid"
    if f.min_length is not None and utf8 < f.min_length:
        return "invalid"
    if f.format == "email" and "@" not in s:
        return "invalid"
    if f.format in ("uuid", "date", "date-time") and not re.fullmatch(r"[0-9A-Fa-f:TZ.+-]+", s):
        return "invalid"
    if f.pattern is not None and not re.fullmatch(f.pattern, s):
        return "invalid"
    return "edge"


def classify_number(f: FuzzField, v: float) -> Kind:
    """How a server following the declaration must treat the number `v`."""
    if f.type not in ("integer", "number") or isinstance(v, bool):
        return "invalid"
    if f.enum is not None:
        return "valid" if v in f.enum else "invalid"
    if f.type == "integer" and isinstance(v, float) and not v.is_integer():
        return "invalid"
    if (f.minimum is not None and v < f.minimum) or (f.maximum is not None and v > f.maximum):
        return "invalid"
    if abs(v) > 2**53 or (v == 0 and math.copysign(1, v) < 0) or (v != 0 and abs(v) < 1e-300):
        return "edge"  # past exact doubles, negative zero, subnormals: parsers disagree
    return "valid"


def invalid_values(f: FuzzField) -> st.SearchStrategy[tuple[str, Any]]:
    """(label, value) pairs the declaration clearly rejects, simplest first."""
    options: list[st.SearchStrategy[tuple[str, Any]]] = []
    if not f.nullable:
        options.append(st.just(("null", None)))
    options.append(st.sampled_from([(f"{name} instead of {f.type}", v) for name, v in WRONG_TYPES[f.type]]))
    if f.type == "string":
        options.append(st.sampled_from(EDGE_NUMBERS).map(lambda v: (f"number {v!r} instead of string", v)))
        if f.min_length:
            options.append(st.just((f"{f.min_length - 1} characters, below min_length {f.min_length}",
                                    "a" * (f.min_length - 1))))
        if f.max_length is not None:
            options.append(st.just((f"{f.max_length + 1} characters, above max_length {f.max_length}",
                                    "a" * (f.max_length + 1))))
        if f.enum is not None:
            candidates = {"synthgate-not-an-option", ""} | {str(e).swapcase() for e in f.enum}
            misses = [v for v in candidates if v not in f.enum]
            options.append(st.sampled_from(sorted(misses)).map(lambda v: (f"{v!r}, not one of the enum", v)))
        if f.format == "email":
            options.append(st.sampled_from(EMAIL_INVALID).map(lambda v: (f"{v!r}, not an email address", v)))
    if f.type in ("integer", "number"):
        as_type = int if f.type == "integer" else float
        if f.minimum is not None:
            below = as_type(f.minimum - 1)
            options.append(st.just((f"{below!r}, below minimum {f.minimum!r}", below)))
        if f.maximum is not None:
            above = as_type(f.maximum + 1)
            options.append(st.just((f"{above!r}, above maximum {f.maximum!r}", above)))
        if f.type == "integer":
            options.append(st.just(("0.5, not an integer", 0.5)))
    return st.one_of(options)


def edge_values(f: FuzzField, huge: int) -> st.SearchStrategy[tuple[Kind, str, Any]]:
    """(kind, label, value) for unusual values: unicode, huge strings, numbers at the edges, empty strings."""
    if f.type == "string":
        # several kinds mixed in one string (all of them, at times), padded with plain letters up to the minimum
        names = sorted(UNICODE_SAMPLES)
        unicode = st.one_of(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True),
                            st.just(names)).map(
            lambda chosen: (" + ".join(chosen), "".join(UNICODE_SAMPLES[n] for n in chosen)))
        padded = unicode.map(lambda t: (f"{t[0]} string", t[1] + "a" * max(0, (f.min_length or 0) - len(t[1]))))
        huge_strings = st.tuples(st.sampled_from(sorted(HUGE_CHUNKS)), st.integers(huge, huge * 3)).map(
            lambda t: (f"{t[1]}-character {t[0]} string", (HUGE_CHUNKS[t[0]] * t[1])[: t[1]]))
        blank = st.sampled_from([("empty string", ""), ("whitespace-only string", "   "),
                                 ("string with surrounding whitespace", "  a  ")])
        mixed = st.one_of(padded, padded, huge_strings, blank)  # unicode twice as often as the others
        return mixed.map(lambda t: (classify_string(f, t[1]), t[0], t[1]))
    if f.type in ("integer", "number"):
        return st.sampled_from(EDGE_NUMBERS).map(lambda v: (classify_number(f, v), f"number at the edge {v!r}", v))
    if f.type == "array":
        return st.integers(1_000, 5_000).map(lambda n: ("edge", f"array of {n} items", ["a"] * n))
    return st.just(("edge", "empty object" if f.type == "object" else "false", {} if f.type == "object" else False))


# ---- request bodies ---------------------------------------------------------------------------

BodyCase = tuple[Kind, str, bytes | None, str | None, Any]  # kind, label, body, content type, JSON value


def _json_case(kind: Kind, label: str, value: Any) -> BodyCase:
    return kind, label, dump_json(value), JSON_TYPE, value


def body_cases(endpoint: FuzzEndpoint, huge: int) -> tuple[st.SearchStrategy[BodyCase], ...]:
    """(valid, invalid, edge) strategies of JSON bodies for an endpoint that declares body fields."""
    fields = endpoint.body or {}
    valid = valid_object(fields)
    required = sorted(n for n, f in fields.items() if f.required)
    names = sorted(fields)
    # built once: a strategy constructed inside a draw is validated again on every example
    invalid_of = {name: invalid_values(f) for name, f in fields.items()}
    edge_of = {name: edge_values(f, huge) for name, f in fields.items()}
    any_required = st.sampled_from(required) if required else st.nothing()
    any_name = st.sampled_from(names) if names else st.nothing()

    @st.composite
    def missing(draw: st.DrawFn) -> BodyCase:
        body = draw(valid)
        name = draw(any_required)
        body.pop(name, None)
        return _json_case(lenient(fields[name], "invalid", None, missing=True), f"{name} missing", body)

    @st.composite
    def bad_field(draw: st.DrawFn) -> BodyCase:
        body = draw(valid)
        name = draw(any_name)
        label, value = draw(invalid_of[name])
        body[name] = value
        return _json_case(lenient(fields[name], "invalid", value), f"{name}: {label}", body)

    @st.composite
    def unusual_field(draw: st.DrawFn) -> BodyCase:
        body = draw(valid)
        name = draw(any_name)
        kind, label, value = draw(edge_of[name])
        body[name] = value
        return _json_case(lenient(fields[name], kind, value), f"{name}: {label}", body)

    @st.composite
    def extra(draw: st.DrawFn) -> BodyCase:
        body = draw(valid)
        name, value = draw(st.sampled_from(EXTRA_FIELDS))
        if name in fields:
            name = f"synthgate_{name}"
        body[name] = value
        kind: Kind = {"accept": "valid", "reject": "invalid", "any": "edge"}[endpoint.extra_fields]  # type: ignore[assignment]
        return _json_case(kind, f"undeclared field {name!r}", body)

    @st.composite
    def truncated(draw: st.DrawFn) -> BodyCase:
        raw = dump_json(draw(valid))
        cut = draw(st.integers(1, max(1, len(raw) - 1)))
        return "invalid", f"JSON cut off after {cut} bytes", raw[:cut], JSON_TYPE, None

    @st.composite
    def other_content_type(draw: st.DrawFn) -> BodyCase:
        value = draw(valid)
        ctype = draw(st.sampled_from(OTHER_CONTENT_TYPES))
        kind: Kind = "invalid" if endpoint.strict_content_type else "edge"
        if ctype == "application/x-www-form-urlencoded" and draw(st.booleans()):
            form = urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}).encode()
            return kind, "form-encoded body", form, ctype, None
        return kind, f"JSON body sent as {ctype or 'no content type'}", dump_json(value), ctype, None

    empty: list[BodyCase] = [("invalid", "empty body", b"", JSON_TYPE, None)]
    if required:
        empty.append(_json_case("invalid", "empty JSON object", {}))
    invalid = [st.sampled_from(empty)]
    if required:
        invalid.append(missing())
    if names:
        invalid.append(bad_field())
    invalid += [
        st.sampled_from(NOT_AN_OBJECT).map(
            lambda t: ("invalid", f"{t[0]} instead of an object", t[1], JSON_TYPE, None)),
        st.sampled_from(MALFORMED).map(lambda t: ("invalid", f"malformed JSON ({t[0]})", t[1], JSON_TYPE, None)),
        truncated(),
    ]
    edge = [extra(), other_content_type(),
            valid.map(lambda b: ("edge", "JSON with a byte-order mark", b"\xef\xbb\xbf" + dump_json(b), JSON_TYPE, b))]
    if names:
        edge[:0] = [unusual_field(), unusual_field()]  # field values: twice the weight of the other edge kinds
    return valid.map(lambda b: _json_case("valid", "valid body", b)), st.one_of(invalid), st.one_of(edge)


# ---- query and path parameters ----------------------------------------------------------------


def param_text(value: Any) -> str:
    """A parameter value as it travels in a URL."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list | dict):
        return json.dumps(value)
    return repr(value) if isinstance(value, float) else str(value)


def fill_path(template: str, values: dict[str, Any]) -> str:
    """The path with each {name} replaced by its percent-encoded value."""
    def one(m: re.Match[str]) -> str:
        return quote(param_text(values[m.group(1)]), safe="", errors="surrogatepass")

    return re.sub(r"\{([A-Za-z0-9_]+)\}", one, template)


ParamCase = tuple[Kind, str, dict[str, Any], dict[str, Any], bool]  # kind, label, path values, query, path mutated


def param_cases(endpoint: FuzzEndpoint, huge: int) -> tuple[
    st.SearchStrategy[ParamCase], st.SearchStrategy[ParamCase] | None, st.SearchStrategy[ParamCase]
]:
    """(valid, invalid or None when nothing about the parameters can be wrong, edge) strategies.

    No path parameter is ever empty: `/api/campaign/` names another route than `/api/campaign/{id}` (on a
    static host, often the site's fallback page), so it is no input of this endpoint (a real-apps lesson)."""
    path_valid = valid_object(endpoint.path_params).filter(lambda values: all(map(_segment, values.values())))
    query_valid = valid_object(endpoint.query)
    huge = min(huge, URL_PART_LIMIT)
    params = [("path", n, f) for n, f in sorted(endpoint.path_params.items())]
    params += [("query", n, f) for n, f in sorted(endpoint.query.items())]
    required_query = sorted(n for n, f in endpoint.query.items() if f.required)
    any_required = st.sampled_from(required_query) if required_query else st.nothing()

    @st.composite
    def valid(draw: st.DrawFn) -> ParamCase:
        return "valid", "valid parameters", draw(path_valid), draw(query_valid), False

    @st.composite
    def missing(draw: st.DrawFn) -> ParamCase:
        query = draw(query_valid)
        name = draw(any_required)
        query.pop(name, None)
        kind = lenient(endpoint.query[name], "invalid", None, missing=True)
        return kind, f"query parameter {name} missing", draw(path_valid), query, False

    edge_of = {(where, name): edge_values(f, huge).filter(lambda c, w=where: w != "path" or _segment(c[2]))
               for where, name, f in params}
    invalid_of = {(where, name): _invalid_param(f, where) for where, name, f in params}

    def mutated(edge: bool) -> st.SearchStrategy[ParamCase]:
        choices = params if edge else [(w, n, f) for w, n, f in params if _invalid_param_options(f, w)]

        which = st.sampled_from(choices)

        @st.composite
        def build(draw: st.DrawFn) -> ParamCase:
            where, name, f = draw(which)
            path, query = draw(path_valid), draw(query_valid)
            if edge:
                kind, label, value = draw(edge_of[(where, name)])
            else:
                kind = "invalid"
                label, value = draw(invalid_of[(where, name)])
            kind = lenient(f, kind, param_text(value) if where == "query" or isinstance(value, str) else value)
            (path if where == "path" else query)[name] = value
            return kind, f"{where} parameter {name}: {label}", path, query, where == "path"

        return build()

    invalid: list[st.SearchStrategy[ParamCase]] = []
    edge: list[st.SearchStrategy[ParamCase]] = []
    if required_query:
        invalid.append(missing())
    if any(_invalid_param_options(f, where) for where, _, f in params):
        invalid.append(mutated(edge=False))
    if params:
        edge.append(mutated(edge=True))
    extra = st.builds(lambda p, q: ("edge", "undeclared query parameter", p, {**q, "synthgate_extra": "1"}, False),
                      path_valid, query_valid)
    edge.append(extra)
    return valid(), (st.one_of(invalid) if invalid else None), st.one_of(edge)


def _segment(value: Any) -> bool:
    """Whether a value fills a path segment (an empty one names another route)."""
    return param_text(value) != ""


def _invalid_param_options(f: FuzzField, where: str = "query") -> list[tuple[str, Any]]:
    """Values that are wrong in a URL, where every value is text: wrong-typed text, bounds, enum (in a path,
    never an empty segment)."""
    options: list[tuple[str, Any]] = []
    if f.type in ("integer", "number"):
        options += [("'abc' instead of a number", "abc"), ("empty value", "")]
        if f.type == "integer":
            options.append(("'1.5', not an integer", "1.5"))
    if f.type == "boolean":
        options.append(("'maybe' instead of a boolean", "maybe"))
    if f.type == "string":
        if f.max_length is not None:
            options.append((f"{f.max_length + 1} characters, above max_length", "a" * (f.max_length + 1)))
        if f.min_length:
            options.append((f"{f.min_length - 1} characters, below min_length", "a" * (f.min_length - 1)))
        if f.enum is not None:
            options.append(("not one of the enum", "synthgate-not-an-option"))
    return [o for o in options if where != "path" or _segment(o[1])]


def _invalid_param(f: FuzzField, where: str) -> st.SearchStrategy[tuple[str, Any]]:
    options = _invalid_param_options(f, where)
    return st.sampled_from(options) if options else st.nothing()


# ---- whole requests ---------------------------------------------------------------------------


def probes(endpoint: FuzzEndpoint, huge: int = 20_000,
           headers: dict[str, str] | None = None) -> st.SearchStrategy[Probe]:
    """Every kind of request to `endpoint`: valid, invalid and edge, in that shrinking order."""
    pv, pi, pe = param_cases(endpoint, huge)
    groups: list[st.SearchStrategy[Probe]]
    if endpoint.body is not None:
        bv, bi, be = body_cases(endpoint, huge)

        def combine(params: st.SearchStrategy[ParamCase], body: st.SearchStrategy[BodyCase], from_params: bool
                    ) -> st.SearchStrategy[Probe]:
            return st.builds(lambda p, b: _probe(endpoint, p, b, from_params, headers), params, body)

        has_params = bool(endpoint.path_params or endpoint.query)
        invalid = [combine(pv, bi, False)] + ([combine(pi, bv, True)] if pi is not None else [])
        edge = [combine(pv, be, False)] + ([combine(pe, bv, True)] if has_params else [])
        groups = [combine(pv, bv, False), st.one_of(invalid), st.one_of(edge)]
    else:
        def alone(params: st.SearchStrategy[ParamCase]) -> st.SearchStrategy[Probe]:
            return params.map(lambda p: _probe(endpoint, p, None, True, headers))

        groups = [alone(pv)] + ([alone(pi)] if pi is not None else []) + [alone(pe)]

    @st.composite
    def pick(draw: st.DrawFn) -> Probe:
        # one index, not a flat one_of: shrinking moves towards group 0 (valid), then 1 (invalid)
        return draw(groups[draw(st.integers(0, len(groups) - 1))])

    return pick()


def valid_probes(endpoint: FuzzEndpoint, headers: dict[str, str] | None = None) -> st.SearchStrategy[Probe]:
    """Only valid requests to `endpoint` (for flows)."""
    pv, _, _ = param_cases(endpoint, 1_000)
    if endpoint.body is None:
        return pv.map(lambda p: _probe(endpoint, p, None, True, headers))
    bv, _, _ = body_cases(endpoint, 1_000)
    return st.builds(lambda p, b: _probe(endpoint, p, b, False, headers), pv, bv)


def _probe(endpoint: FuzzEndpoint, params: ParamCase, body: BodyCase | None, from_params: bool,
           headers: dict[str, str] | None) -> Probe:
    pkind, plabel, path_values, query, path_mutated = params
    all_headers = dict(headers or {})
    if body is None:
        kind, label, raw, data = pkind, plabel, None, None
    else:
        bkind, blabel, raw, ctype, data = body
        kind, label = (pkind, plabel) if from_params else (bkind, blabel)
        if ctype:
            all_headers["Content-Type"] = ctype
    return Probe(kind=kind, label=label, method=endpoint.method, path=fill_path(endpoint.path, path_values),
                 query={k: param_text(v) for k, v in query.items()}, headers=all_headers, body=raw, data=data,
                 path_mutated=path_mutated)
