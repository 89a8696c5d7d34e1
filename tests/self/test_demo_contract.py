"""The demo's /openapi.json, its router and its validators agree: each is checked against the others over HTTP.

The spec is built from synthgate/demo/contract.py; these tests read the spec the running demo serves and hold the
contract, the router's table and the validators' real answers to it, so a route, field, limit or status changed
in one place only fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from synthgate.demo import contract
from synthgate.demo.routes import DemoTarget
from synthgate.demo.server import EmbeddedTarget

SPEC_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[httpx.Client, dict[str, Any]]]:
    """A healthy demo over loopback, and the OpenAPI document it serves."""
    with EmbeddedTarget() as target, httpx.Client(base_url=target.url, timeout=10) as http:
        answer = http.get(contract.OPENAPI_PATH)
        assert answer.status_code == 200
        yield http, answer.json()


def _operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method.upper(), path): op for path, item in spec["paths"].items()
            for method, op in item.items() if method in SPEC_METHODS}


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/components/schemas/"), ref
    return dict(spec["components"]["schemas"][ref.rsplit("/", 1)[1]])


def _body_schema(spec: dict[str, Any], op: dict[str, Any]) -> dict[str, Any] | None:
    if "requestBody" not in op:
        return None
    return _resolve(spec, op["requestBody"]["content"]["application/json"]["schema"])


def _concrete(path: str) -> str:
    return path.replace("{id}", "test")  # the seeded campaign


def test_spec_has_every_contract_operation_and_no_other(served: tuple[httpx.Client, dict[str, Any]]) -> None:
    _, spec = served
    declared = {(op.method, op.path): op.operation_id for op in contract.OPERATIONS}
    in_spec = {key: op["operationId"] for key, op in _operations(spec).items()}
    assert in_spec == declared
    assert len(declared) == 8  # the reference surface: health, intake, campaign, generate, session, login, reset, docs


def test_router_serves_exactly_the_spec_operations(served: tuple[httpx.Client, dict[str, Any]],
                                                    tmp_path: Path) -> None:
    _, spec = served
    target = DemoTarget(tmp_path / "demo.json")
    try:
        routed = {(method, path) for path, methods in target.routes.items() for method in methods
                  if path != contract.OPENAPI_PATH and path not in contract.PAGE_PATHS}
    finally:
        target.store.close()
    assert routed == set(_operations(spec))


def test_spec_request_bodies_are_the_contract_fields(served: tuple[httpx.Client, dict[str, Any]]) -> None:
    _, spec = served
    ops = _operations(spec)
    for op in contract.OPERATIONS:
        schema = _body_schema(spec, ops[op.method, op.path])
        if op.body is None:
            assert schema is None, op.path
            continue
        assert schema is not None, op.path
        assert schema["required"] == op.body.names, op.path
        assert set(schema["properties"]) == set(op.body.names), op.path
        for name, (low, high) in op.body.strings.items():
            prop = schema["properties"][name]
            assert (prop["type"], prop["minLength"], prop["maxLength"]) == ("string", low, high), (op.path, name)
            assert prop.get("pattern") == (contract.EMAIL_PATTERN if name in op.body.emails else None), name
        for name, choices in op.body.choices.items():
            assert schema["properties"][name]["enum"] == list(choices), (op.path, name)


def test_spec_statuses_are_the_contract_answers(served: tuple[httpx.Client, dict[str, Any]]) -> None:
    _, spec = served
    ops = _operations(spec)
    for op in contract.OPERATIONS:
        expected = {r.status for r in op.responses} | {405} | ({400} if op.body else set())
        assert {int(s) for s in ops[op.method, op.path]["responses"]} == expected, op.path
        assert [p["name"] for p in ops[op.method, op.path].get("parameters", [])] == op.parameters
        assert ("security" in ops[op.method, op.path]) == op.bearer, op.path


def test_every_spec_path_answers_its_methods_and_405_for_others(served: tuple[httpx.Client, dict[str, Any]]) -> None:
    http, spec = served
    for path, item in spec["paths"].items():
        declared = {m.upper() for m in item if m in SPEC_METHODS}
        other = "DELETE" if "DELETE" not in declared else "PATCH"
        answer = http.request(other, _concrete(path))
        assert answer.status_code == 405, path
        assert set(answer.headers["allow"].split(", ")) - {"HEAD", "OPTIONS"} == declared, path
        for method in declared:
            assert http.request(method, _concrete(path)).status_code not in (404, 405), (method, path)


def _valid_value(schema: dict[str, Any], length: int | None = None) -> Any:
    if "enum" in schema:
        return schema["enum"][0]
    length = schema["minLength"] if length is None else length
    if "pattern" in schema:  # an email of exactly `length` characters
        return "a" * max(1, length - len("@example.com")) + "@example.com"
    return "x" * length


def _valid_body(schema: dict[str, Any]) -> dict[str, Any]:
    props = schema["properties"]
    # minimal lengths, except that emails must be long enough to be addresses
    return {name: _valid_value(props[name], max(props[name].get("minLength", 0), 13) if "pattern" in props[name]
                               else None) for name in schema["required"]}


def test_validators_enforce_the_served_spec_at_its_limits(served: tuple[httpx.Client, dict[str, Any]]) -> None:
    """Built from the served spec alone: a valid body passes validation; each field missing, mistyped, one
    character too short or too long, or outside its enum, is a 400 naming that field."""
    http, spec = served
    for (method, path), op in _operations(spec).items():
        schema = _body_schema(spec, op)
        if schema is None:
            continue
        valid = _valid_body(schema)

        def send(body: dict[str, Any], path: str = path, method: str = method) -> httpx.Response:
            return http.request(method, path, json=body)

        assert send(valid).status_code != 400, (path, send(valid).text)
        for name, prop in schema["properties"].items():
            rejected: list[Any] = [{k: v for k, v in valid.items() if k != name}, {**valid, name: 12345}]
            if "enum" in prop:
                rejected.append({**valid, name: prop["enum"][0] + "x"})
                for choice in prop["enum"]:
                    assert send({**valid, name: choice}).status_code != 400, (path, name, choice)
            else:
                rejected.append({**valid, name: _valid_value(prop, prop["maxLength"] + 1)})
                assert send({**valid, name: _valid_value(prop, prop["maxLength"])}).status_code != 400, (path, name)
                if "pattern" not in prop:
                    rejected.append({**valid, name: "x" * (prop["minLength"] - 1)})
                else:
                    rejected.append({**valid, name: "not-an-address"})
            for body in rejected:
                answer = send(body)
                assert answer.status_code == 400, (path, name, body)
                assert name in answer.json()["error"], (path, name, answer.json())
