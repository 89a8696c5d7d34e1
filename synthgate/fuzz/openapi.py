"""OpenAPI targets: Schemathesis generates the cases, synthgate sends them (paced, headers, no writes unless
allowed) and applies both Schemathesis' response checks and its own properties.

The operation's JSON schema is also turned into declared fields, so synthgate's own kinds of input (huge and
unicode strings, malformed JSON, other content types) reach the operation without a hand-written schema.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from synthgate.fuzz.strategies import Probe, dump_json
from synthgate.profile.fuzz import FuzzEndpoint, FuzzField

# Response checks only: none of them sends a request of its own (which would bypass pacing and the
# no-writes rule). A healthy demo target passes all of them.
CHECK_NAMES = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
               "response_headers_conformance", "response_schema_conformance", "negative_data_rejection")
_DROP_HEADERS = {"user-agent", "x-schemathesis-testcaseid", "accept-encoding", "accept", "connection"}
_TYPES = {"string", "integer", "number", "boolean", "object", "array"}


@dataclass
class Operation:
    """One OpenAPI operation and what synthgate knows of it."""

    label: str  # METHOD /path
    operation: Any  # schemathesis APIOperation
    endpoint: FuzzEndpoint  # its inputs as declared fields, with the profile's expectations when it has any
    negatable: bool  # Schemathesis can generate schema-invalid cases for it
    base_path: str = ""  # Swagger 2's basePath or OpenAPI 3's server path: the operation's path is under it


def load_schema(document: dict[str, Any]) -> Any:
    """The Schemathesis schema of a parsed OpenAPI document."""
    import schemathesis

    return schemathesis.openapi.from_dict(document)


def operations(document: dict[str, Any], profile_endpoints: list[FuzzEndpoint]) -> list[Operation]:
    """Every operation of the document, merged with the profile's endpoint of the same method and path."""
    schema = load_schema(document)
    by_label = {e.label: e for e in profile_endpoints}
    base = base_path(document)
    out = []
    for result in schema.get_all_operations():
        op = result.ok()
        label = f"{op.method.upper()} {op.path}"
        spec = document["paths"][op.path][op.method.lower()]
        declared = by_label.get(label) or by_label.get(f"{op.method.upper()} {base}{op.path}")
        endpoint = to_endpoint(document, op.path, op.method.upper(), spec, declared, base)
        params = [p for p in _parameters(document, op.path, op.method.lower()) if p.get("in") != "path"]
        out.append(Operation(label=label, operation=op, endpoint=endpoint,
                             negatable=bool(spec.get("requestBody")) or bool(params), base_path=base))
    return out


def base_path(document: dict[str, Any]) -> str:
    """Where the document's paths live on the target: Swagger 2's basePath, or OpenAPI 3's first server's path."""
    from urllib.parse import urlsplit

    if isinstance(document.get("basePath"), str):
        return document["basePath"].rstrip("/")
    servers = document.get("servers")
    if isinstance(servers, list) and servers and isinstance(servers[0], dict):
        return urlsplit(str(servers[0].get("url", ""))).path.rstrip("/")
    return ""


def _resolve(document: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """A schema node with a local $ref followed."""
    while isinstance(node, dict) and "$ref" in node and depth < 20:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return {}
        target: Any = document
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(target, dict) else {}
        node, depth = target, depth + 1
    return node if isinstance(node, dict) else {}


def _parameters(document: dict[str, Any], path: str, method: str) -> list[dict[str, Any]]:
    item = document["paths"][path]
    params = [_resolve(document, p) for p in item.get("parameters", []) + item[method].get("parameters", [])]
    return [p for p in params if isinstance(p, dict)]


def to_field(document: dict[str, Any], schema: Any, required: bool = True, depth: int = 0) -> FuzzField | None:
    """A declared field from a JSON schema, or None for what it cannot express (oneOf, $ref loops...)."""
    schema = _resolve(document, schema)
    if depth > 5 or any(k in schema for k in ("oneOf", "anyOf", "allOf", "not")):
        return None
    types = schema.get("type", "string" if "enum" in schema or "const" in schema else None)
    nullable = bool(schema.get("nullable"))
    if isinstance(types, list):
        nullable = nullable or "null" in types
        types = [t for t in types if t != "null"]
        types = types[0] if len(types) == 1 else None
    if types not in _TYPES:
        return None
    spec: dict[str, Any] = {"type": types, "required": required, "nullable": nullable}
    if "enum" in schema or "const" in schema:
        spec["enum"] = list(schema["enum"]) if "enum" in schema else [schema["const"]]
    if types == "string":
        fmt = schema.get("format")
        if fmt in ("email", "uuid", "date", "date-time", "uri"):
            spec["format"] = fmt
        if "pattern" in schema and "format" not in spec:
            spec["pattern"] = schema["pattern"]
        lengths = (("min_length", "minLength"), ("max_length", "maxLength"))
        spec.update({k: schema[s] for k, s in lengths if s in schema})
    if types in ("integer", "number"):
        spec.update({k: schema[k] for k in ("minimum", "maximum") if k in schema})
    if types == "object":
        members = _members(document, schema, depth)
        if members is None:
            return None
        spec["properties"] = members
    if types == "array" and "items" in schema:
        items = to_field(document, schema["items"], True, depth + 1)
        if items is None:
            return None
        spec["items"] = items
    try:
        return FuzzField.model_validate(spec)
    except ValueError:
        return None


def _members(document: dict[str, Any], schema: dict[str, Any], depth: int) -> dict[str, FuzzField] | None:
    required = set(schema.get("required", []))
    out = {}
    for name, sub in schema.get("properties", {}).items():
        converted = to_field(document, sub, name in required, depth + 1)
        if converted is None:
            return None
        out[name] = converted
    return out


def to_endpoint(document: dict[str, Any], path: str, method: str, spec: dict[str, Any],
                declared: FuzzEndpoint | None, base: str = "") -> FuzzEndpoint:
    """The operation as a declared endpoint: fields from the document, expectations from the profile."""
    path_params: dict[str, FuzzField] = {}
    query: dict[str, FuzzField] = {}
    for p in _parameters(document, path, method.lower()):
        converted = to_field(document, p.get("schema", {}), bool(p.get("required")) or p.get("in") == "path")
        if converted is None:
            converted = FuzzField(type="string", required=bool(p.get("required")))
        if p.get("in") == "path":
            path_params[p["name"]] = converted
        elif p.get("in") == "query":
            query[p["name"]] = converted
    body: dict[str, FuzzField] | None = None
    request_body = _resolve(document, spec.get("requestBody", {}))
    json_schema = request_body.get("content", {}).get("application/json", {}).get("schema")
    if json_schema is not None:
        resolved = _resolve(document, json_schema)
        body = _members(document, resolved, 0) if resolved.get("type", "object") == "object" else None
    declared_statuses = [int(code) for code in spec.get("responses", {}) if re.fullmatch(r"[1-5]\d\d", str(code))]
    values: dict[str, Any] = {
        "id": declared.id if declared else None,
        "method": method, "path": base + path, "path_params": path_params, "query": query,
        "body": body if method not in ("GET", "HEAD") else None,
        # without a profile entry every declared answer below 500 counts as success for valid input
        "success": [s for s in declared_statuses if s < 500] or [200],
    }
    if declared is not None:
        _leniency(path_params, declared.path_params)
        _leniency(query, declared.query)
        _leniency(body or {}, declared.body or {})
        values.update(success=declared.success, invalid=declared.invalid, extra_fields=declared.extra_fields,
                      strict_content_type=declared.strict_content_type, headers=declared.headers,
                      error_content_type=declared.error_content_type, error_fields=declared.error_fields,
                      max_examples=declared.max_examples)
    elif body is not None and _resolve(document, json_schema).get("additionalProperties") is False:
        values["extra_fields"] = "reject"
    return FuzzEndpoint.model_validate(values)


def _leniency(fields: dict[str, FuzzField], declared: dict[str, FuzzField]) -> None:
    """The profile's leniency for a field of the document (blank, missing, also_valid) overrides the schema."""
    for name, field in list(fields.items()):
        mine = declared.get(name)
        if mine is not None:
            fields[name] = field.model_copy(update={"blank": mine.blank, "missing": mine.missing,
                                                    "also_valid": list(mine.also_valid)})


def cases(op: Operation) -> st.SearchStrategy[Any]:
    """Schemathesis' positive cases, and negative ones when the operation has anything to negate."""
    from schemathesis import GenerationMode

    positive = op.operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    if not op.negatable:
        return positive
    return st.one_of(positive, op.operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))


def is_positive(case: Any) -> bool:
    """Whether Schemathesis generated the case as schema-valid."""
    meta = getattr(case, "meta", None)
    return meta is None or bool(meta.generation.mode.is_positive)


def case_request(case: Any, base_url: str) -> tuple[str, str, dict[str, str], bytes | None] | None:
    """(method, url, headers, body) of a case, or None when it cannot travel as plain HTTP (multipart...)."""
    kwargs = case.as_transport_kwargs(base_url=base_url)
    if "files" in kwargs:
        return None
    headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items() if k.lower() not in _DROP_HEADERS}
    cookies = kwargs.get("cookies") or {}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body: bytes | None = None
    if "json" in kwargs:
        body = dump_json(kwargs["json"])
        headers.setdefault("Content-Type", "application/json")
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        body = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    url = kwargs["url"]
    params = kwargs.get("params") or {}
    if params:
        import httpx

        url = str(httpx.URL(url, params=params))
    return str(kwargs["method"]).upper(), url, headers, body


def schemathesis_failures(case: Any, response: Any, headers: dict[str, str], base_url: str) -> list[str]:
    """Titles of the Schemathesis response checks the response fails."""
    from schemathesis import checks as sc
    from schemathesis.core.failures import FailureGroup

    chosen = [getattr(sc, name) for name in CHECK_NAMES if hasattr(sc, name)]
    with contextlib.suppress(Exception):  # a request that followed a redirect was never read: the checks read it
        response.request.read()
    try:
        case.validate_response(response, checks=chosen, headers=headers, transport_kwargs={"base_url": base_url})
    except FailureGroup as group:
        return [f"{type(f).__name__}: {getattr(f, 'title', f)}" for f in group.exceptions]
    return []


def as_probe(case: Any, request: tuple[str, str, dict[str, str], bytes | None]) -> Probe:
    """A Schemathesis case in synthgate's terms, for its properties and reports."""
    method, url, headers, body = request
    kind = "valid" if is_positive(case) else "edge"  # Schemathesis judges rejection of negative cases itself
    mode = "positive" if is_positive(case) else "negative"
    return Probe(kind=kind, label=f"Schemathesis {mode} case", method=method, path=url, headers=headers, body=body)
