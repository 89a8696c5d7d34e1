"""The profile's JSON Schema, generated from the pydantic model, describing what a YAML file may say.

pydantic describes a field by the type it ends up as; the profile also accepts shorthands that before-validators
expand (`status: 401`, `every: 5m`, `expect_text: Welcome`, `field: string`, a journey with `steps` and no `kind`).
The generator below describes those inputs, so an editor (yaml-language-server) and any JSON Schema validator
accept every profile synthgate accepts.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from synthgate.profile.model import Profile

SCHEMA_ID = "https://synthgate.dev/schema/profile.json"

_STATUS_ITEM: dict[str, Any] = {"anyOf": [
    {"type": "integer", "minimum": 100, "maximum": 599},
    {"type": "string", "pattern": r"^\s*([1-5]xx|[1-5][0-9][0-9])\s*$"},
]}
_DURATION: dict[str, Any] = {"anyOf": [
    {"type": "number", "minimum": 0},
    {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$"},
], "description": "seconds, or a duration such as 250ms, 30s, 5m, 2h, 7d"}
_STEPS_SHORTHAND = "StepsJourneyWithoutKind"
_MARKER = "x-synthgate-steps-shorthand"


def _status_set(inner: JsonSchemaValue) -> JsonSchemaValue:
    return {"anyOf": [_STATUS_ITEM, {"type": "array", "items": _STATUS_ITEM}],
            "description": "an HTTP status, a class such as 4xx, or a list of them"}


def _text_list(inner: JsonSchemaValue) -> JsonSchemaValue:
    item = inner.get("items", {})
    return {"anyOf": [{"type": "string"}, {"type": "object", "additionalProperties": {"type": "string"}},
                      {"type": "array", "items": {"anyOf": [{"type": "string"}, item]}}],
            "description": "a text, {selector: text}, or a list of texts / {text, selector}"}


def _shorthand(inner: JsonSchemaValue) -> JsonSchemaValue:
    return {"anyOf": [{"type": "string", "enum": ["string", "integer", "number", "boolean", "object", "array"]},
                      inner]}


def _default_kind(inner: JsonSchemaValue) -> JsonSchemaValue:
    variants = {k: v for k, v in inner.items() if k != "discriminator"}
    # a marker, replaced by a $ref once the whole schema exists (pydantic checks every $ref while generating)
    return {"anyOf": [variants, {_MARKER: True}]}


# before-validator function name -> the schema of what it accepts, given the schema of what it returns
_INPUTS = {
    "parse_duration": lambda inner: _DURATION,
    "_status_set": _status_set,
    "_regex": lambda inner: {"type": "string", "format": "regex"},
    "_text_list": _text_list,
    "_shorthand": _shorthand,
    "_default_kind": _default_kind,
}


class ProfileSchema(GenerateJsonSchema):
    """pydantic's generator, describing the shorthands before-validators accept."""

    def function_before_schema(self, schema: core_schema.BeforeValidatorFunctionSchema) -> JsonSchemaValue:
        """The input a before-validator accepts (known shorthands), else what it returns."""
        inner = super().function_before_schema(schema)
        name = getattr(schema["function"]["function"], "__name__", "")
        handler = _INPUTS.get(name)
        return handler(inner) if handler else inner

    def generate(self, schema: core_schema.CoreSchema, mode: Any = "validation") -> JsonSchemaValue:
        """The whole schema, with the shorthand form of a steps journey among the definitions."""
        out = super().generate(schema, mode)
        defs = out.get("$defs", {})
        if "StepsJourney" in defs:
            shorthand = copy.deepcopy(defs["StepsJourney"])
            shorthand["required"] = [r for r in shorthand.get("required", []) if r != "kind"]
            shorthand["title"] = "StepsJourney (kind omitted)"
            defs[_STEPS_SHORTHAND] = shorthand
        return _replace_marker(out)


def _replace_marker(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get(_MARKER):
            return {"$ref": f"#/$defs/{_STEPS_SHORTHAND}"}
        return {k: _replace_marker(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_marker(v) for v in node]
    return node


def profile_schema() -> dict[str, Any]:
    """The profile's JSON Schema (draft 2020-12)."""
    schema = Profile.model_json_schema(schema_generator=ProfileSchema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "synthgate profile", **schema}


def schema_text() -> str:
    """The schema as indented JSON text."""
    return json.dumps(profile_schema(), indent=2, sort_keys=False) + "\n"


@functools.cache
def field_names() -> frozenset[str]:
    """Every field name the profile knows, in any section."""
    schema = profile_schema()
    names: set[str] = set(schema.get("properties", {}))
    for definition in schema.get("$defs", {}).values():
        names.update(definition.get("properties", {}))
    return frozenset(names)


def suggest(name: str) -> str | None:
    """The known field closest to a misspelt one, if any is close."""
    match = difflib.get_close_matches(name, sorted(field_names()), n=1, cutoff=0.75)
    return match[0] if match else None
