"""The demo target's /openapi.json, built from its contract: operations, request bodies and answers' statuses.

Only the answers' schemas are written out here (they describe what the handlers send; the Schemathesis self-test
checks real answers against them); every path, method, request field, limit and status comes from contract.py.
"""

from __future__ import annotations

from typing import Any

from synthgate.demo.contract import (
    BAD_REQUEST,
    EMAIL_PATTERN,
    INTAKE_FIELDS,
    NOT_ALLOWED,
    OPERATIONS,
    Operation,
    RequestBody,
    Response,
)

TITLE = "synthgate demo target"
VERSION = "1.4.0"
BEARER_SCHEME = "bearerAuth"


def _ref(schema: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{schema}"}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _response(response: Response) -> dict[str, Any]:
    out = {"description": response.description, **_json_content(_ref(response.schema))}
    if response.links:
        out["links"] = response.links
    return out


def request_schema(body: RequestBody) -> dict[str, Any]:
    """The JSON Schema of a request body: every field required; extra properties allowed, as the server ignores
    them (no additionalProperties: false)."""
    properties: dict[str, dict[str, Any]] = {}
    for name, (low, high) in body.strings.items():
        properties[name] = {"type": "string", "minLength": low, "maxLength": high}
        if name in body.emails:
            properties[name]["pattern"] = EMAIL_PATTERN
    for name, choices in body.choices.items():
        properties[name] = {"type": "string", "enum": list(choices)}
    return {"type": "object", "required": body.names, "properties": properties}


def operation_object(op: Operation) -> dict[str, Any]:
    """One operation of the document: its id, parameters, security, body and every status it answers."""
    out: dict[str, Any] = {"operationId": op.operation_id}
    if op.parameters:
        out["parameters"] = [{"name": name, "in": "path", "required": True,
                              "schema": {"type": "string", "minLength": 1}} for name in op.parameters]
    if op.bearer:
        out["security"] = [{BEARER_SCHEME: []}]
    answers = list(op.responses)
    if op.body is not None:
        out["requestBody"] = {"required": True, **_json_content(_ref(op.body.schema))}
        answers.append(BAD_REQUEST)
    answers.append(NOT_ALLOWED)
    out["responses"] = {str(r.status): _response(r) for r in sorted(answers, key=lambda r: r.status)}
    return out


def _object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _const(value: bool | str) -> dict[str, Any]:
    return {"type": "boolean" if isinstance(value, bool) else "string", "const": value}


STRING: dict[str, Any] = {"type": "string"}

# What the handlers answer (handlers.py), by schema name.
RESPONSE_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _object(["error"], {"error": STRING, "message": STRING, "success": _const(False)}),
    "Health": _object(["status", "environment", "timestamp", "version"], {
        "status": _const("ok"), "environment": STRING, "timestamp": {"type": "string", "format": "date-time"},
        "version": STRING}),
    "IntakeCreated": _object(["success", "campaign_id"], {
        "success": _const(True), "campaign_id": {"type": "string", "pattern": "^camp_[0-9a-f]+$"}}),
    "CampaignResponse": _object(["success", "campaign"], {
        "success": _const(True),
        "campaign": _object(["id", *INTAKE_FIELDS], {"id": STRING, "created_at": STRING,
                                                     **{name: STRING for name in INTAKE_FIELDS}})}),
    "GenerateResponse": _object(["success", "sequenceId", "sequence"], {
        "success": _const(True), "sequenceId": STRING,
        "sequence": _object(["emails"], {"emails": {
            "type": "array", "minItems": 1,
            "items": _object(["subject", "body"], {"subject": STRING, "body": STRING})}})}),
    "Session": _object(["plan", "generations_used", "max_generations"], {
        "plan": STRING, "generations_used": {"type": "integer", "minimum": 0},
        "max_generations": {"type": "integer", "minimum": 0}}),
    "Token": _object(["token"], {"token": STRING, "token_type": STRING, "expires_in": {"type": "integer"}}),
    "Message": _object(["message"], {"success": {"type": "boolean"}, "message": STRING}),
    "Manuscripts": _object(["manuscripts"], {"manuscripts": {"type": "array", "items": _object(["id", "title"], {
        "id": STRING, "title": STRING, "status": STRING, "word_count": {"type": "integer"}})}}),
}


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of the JSON API, built from the contract the router and validators follow."""
    paths: dict[str, dict[str, Any]] = {}
    # schemas in the order the operations first use them (an answer's schema missing above fails here)
    schemas = {"Error": RESPONSE_SCHEMAS["Error"]}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = operation_object(op)
        if op.body is not None:
            schemas[op.body.schema] = request_schema(op.body)
        for response in op.responses:
            schemas.setdefault(response.schema, RESPONSE_SCHEMAS[response.schema])
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": "The embedded demo target's JSON API."},
        "paths": paths,
        "components": {
            "securitySchemes": {BEARER_SCHEME: {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
    }
