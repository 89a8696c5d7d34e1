"""The profile's fuzz section: endpoints with body schemas, stateful flows, OpenAPI, and the safety bounds."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from synthgate.profile.common import Regex, StatusSet, Strict

FuzzMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
FieldType = Literal["string", "integer", "number", "boolean", "object", "array"]
Leniency = Literal["reject", "accept", "any"]
SAFE_METHODS = frozenset({"GET", "HEAD"})
_ID = r"^[A-Za-z0-9_.:-]+$"
_PATH_PARAM = re.compile(r"\{([A-Za-z0-9_]+)\}")


def _shorthand(value: Any) -> Any:
    """`name: string` stands for `name: {type: string}`."""
    return {"type": value} if isinstance(value, str) else value


class FuzzField(Strict):
    """One declared input field (JSON body property, query or path parameter) and its constraints."""

    type: FieldType = "string"
    required: bool = True
    nullable: bool = False
    format: Literal["email", "uuid", "date", "date-time", "uri"] | None = None
    pattern: Regex | None = None  # valid values match it in full
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=0)
    minimum: float | None = None
    maximum: float | None = None
    enum: list[Any] | None = Field(default=None, min_length=1)
    items: FieldSpec | None = None  # array element schema (default: strings)
    properties: dict[str, FieldSpec] = Field(default_factory=dict)  # object members
    max_items: int = Field(default=5, ge=0, le=100)
    # leniency the app really has (each None: as the declaration says): a blank value ("" or whitespace only),
    # a required member or parameter left out; reject = invalid input (a 4xx), accept = valid input (a success
    # status), any = either answer but never a 5xx
    blank: Leniency | None = None
    missing: Leniency | None = None
    also_valid: list[Any] = Field(default_factory=list)  # values the app treats as valid, though declared invalid

    @model_validator(mode="after")
    def _consistent(self) -> FuzzField:
        if self.min_length is not None and self.max_length is not None and self.min_length > self.max_length:
            raise ValueError(f"expected min_length <= max_length, got {self.min_length} > {self.max_length}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"expected minimum <= maximum, got {self.minimum} > {self.maximum}")
        string_only = ("format", "pattern", "min_length", "max_length")
        if self.type != "string" and any(getattr(self, k) is not None for k in string_only):
            raise ValueError(f"{', '.join(string_only)} only apply to type string (this field is {self.type})")
        if self.type not in ("integer", "number") and (self.minimum is not None or self.maximum is not None):
            raise ValueError(f"minimum/maximum only apply to integer and number (this field is {self.type})")
        return self


FieldSpec = Annotated[FuzzField, BeforeValidator(_shorthand)]
FuzzField.model_rebuild()


class FuzzEndpoint(Strict):
    """A fuzzable endpoint: where it is, what it accepts, and how it must answer."""

    id: str | None = Field(default=None, pattern=_ID)  # default: method and path, e.g. post-api-generate
    method: FuzzMethod = "POST"
    path: str  # may hold {name} placeholders declared under path_params
    path_params: dict[str, FieldSpec] = Field(default_factory=dict)
    query: dict[str, FieldSpec] = Field(default_factory=dict)
    body: dict[str, FieldSpec] | None = None  # JSON object body; None: the endpoint takes no body
    headers: dict[str, str] = Field(default_factory=dict)  # sent with every request (templates expanded)
    success: StatusSet = Field(default_factory=lambda: [200])  # the answers valid input may get
    invalid: StatusSet | None = None  # the answers invalid input may get (default: any 4xx but 404/405)
    extra_fields: Literal["accept", "reject", "any"] = "any"  # undeclared body members
    strict_content_type: bool = False  # a body sent as anything but JSON must be rejected
    error_content_type: str | None = None  # default: fuzz.error_content_type
    error_fields: list[str] | None = None  # default: fuzz.error_fields
    max_examples: int | None = Field(default=None, ge=1, le=100_000)

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("expected a path starting with '/'")
        return value

    @model_validator(mode="after")
    def _params_declared(self) -> FuzzEndpoint:
        names = set(_PATH_PARAM.findall(self.path))
        if names != set(self.path_params):
            wanted = ", ".join(sorted(names)) or "none"
            got = ", ".join(sorted(self.path_params)) or "none"
            raise ValueError(f"expected path_params for exactly the placeholders of {self.path!r} "
                             f"({wanted}), got {got}")
        if self.body is not None and self.method in SAFE_METHODS:
            raise ValueError(f"expected no body on a {self.method} endpoint")
        return self

    @property
    def key(self) -> str:
        """The endpoint's id: the declared one, or method and path, e.g. post-api-generate."""
        if self.id:
            return self.id
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.path).strip("-") or "root"
        return f"{self.method.lower()}-{slug}"

    @property
    def label(self) -> str:
        """METHOD path."""
        return f"{self.method} {self.path}"


class QuotaFlow(Strict):
    """Per-session quota: the first `limit` valid requests of a session succeed, every later one is refused."""

    kind: Literal["quota"]
    id: str | None = Field(default=None, pattern=_ID)
    headers: dict[str, str] = Field(default_factory=dict)  # on every request of the flow, after the endpoint's
    endpoint: str  # id of a declared endpoint (its valid bodies are the requests), or "METHOD /path"
    body: Any = None  # a fixed valid body ($var allowed) instead of generated ones
    limit: int = Field(default=1, ge=1, le=1000)
    within_limit: StatusSet = Field(default_factory=lambda: [200])
    over_limit: StatusSet = Field(default_factory=lambda: [402])
    max_examples: int | None = Field(default=None, ge=1)
    steps: int = Field(default=8, ge=2, le=100)


class CreateReadFlow(Strict):
    """Create-then-read: a created resource reads back with the same data; an unknown id is a 404."""

    kind: Literal["create-read"]
    id: str | None = Field(default=None, pattern=_ID)
    headers: dict[str, str] = Field(default_factory=dict)  # on every request (reads too), after the endpoint's
    create: str  # id of a declared endpoint, or "METHOD /path" of one
    id_field: str  # dotted path of the new id in the create response, e.g. campaign_id
    read: str  # path with an {id} placeholder, read with GET, e.g. /api/campaign/{id}
    data_field: str = ""  # dotted path in the read response where the created fields appear ("" = top level)
    created: StatusSet = Field(default_factory=lambda: [200, 201])
    found: StatusSet = Field(default_factory=lambda: [200])
    missing: StatusSet = Field(default_factory=lambda: [404])
    unknown_prefix: str = Field(default="synthgate-unknown-", min_length=8)  # unknown ids start with it
    max_examples: int | None = Field(default=None, ge=1)
    steps: int = Field(default=8, ge=2, le=100)

    @field_validator("read")
    @classmethod
    def _read_has_id(cls, value: str) -> str:
        if not value.startswith("/") or "{id}" not in value:
            raise ValueError("expected a path starting with '/' holding an {id} placeholder")
        return value


Flow = Annotated[QuotaFlow | CreateReadFlow, Field(discriminator="kind")]


class FuzzConfig(Strict):
    """The fuzz stage: what to fuzz, which answers are acceptable, and the bounds that keep it safe."""

    endpoints: list[FuzzEndpoint] = Field(default_factory=list)
    flows: list[Flow] = Field(default_factory=list)
    openapi: str | None = None  # path (or URL) of an OpenAPI document: Schemathesis fuzzes its operations
    openapi_operations: list[str] = Field(default_factory=list)  # only these "METHOD /path" (default: all)
    allow_writes: bool = False  # without it only GET and HEAD are ever sent
    max_examples: int = Field(default=100, ge=1, le=100_000)  # per endpoint, operation and flow
    max_time_s: float = Field(default=60.0, gt=0, le=86_400)  # the whole stage, enforced
    max_rps: float = Field(default=20.0, gt=0, le=100_000)  # shared by every request of the stage
    concurrency: int = Field(default=8, ge=1, le=64)  # coverage-phase requests in flight at once (paced by max_rps)
    coverage: bool = True  # each boundary and class of every field once, before the random inputs
    latency_ms: float | None = Field(default=None, gt=0)  # default: defaults.latency_budget_ms
    huge_length: int = Field(default=20_000, ge=1_000, le=1_000_000)  # characters of a "huge" string
    error_content_type: str = "application/json"
    error_fields: list[str] = Field(default_factory=list)  # members every JSON error body must have
    seed: int | None = None  # fixed seed; `synthgate run --seed` overrides

    @field_validator("openapi")
    @classmethod
    def _openapi_location(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("expected a path on the target ('/openapi.json'), an http(s) URL, or a spec file")
        return value  # a value not starting with '/' or http(s):// is a file beside the profile (fuzz.local_spec)

    @field_validator("openapi_operations")
    @classmethod
    def _operations(cls, value: list[str]) -> list[str]:
        for item in value:
            method, _, path = item.partition(" ")
            if method.upper() not in {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} or not path.startswith("/"):
                raise ValueError(f"expected 'METHOD /path', got {item!r}")
        return [f"{m.upper()} {p}" for m, _, p in (i.partition(" ") for i in value)]

    @model_validator(mode="after")
    def _references(self) -> FuzzConfig:
        keys = [e.key for e in self.endpoints]
        if len(set(keys)) != len(keys):
            raise ValueError(f"expected unique endpoint ids, got {', '.join(keys)}")
        known = set(keys) | {e.label for e in self.endpoints}
        for flow in self.flows:
            ref = flow.endpoint if isinstance(flow, QuotaFlow) else flow.create
            if ref not in known:
                raise ValueError(f"flow {flow.kind}: expected a declared endpoint id or 'METHOD /path', got {ref!r} "
                                 f"(declared: {', '.join(keys) or 'none'})")
        flow_ids = [flow_key(f) for f in self.flows]
        if len(set(flow_ids)) != len(flow_ids):
            raise ValueError(f"expected unique flow ids, got {', '.join(flow_ids)}")
        return self

    def endpoint(self, ref: str) -> FuzzEndpoint:
        """A declared endpoint by id or by 'METHOD /path'."""
        for e in self.endpoints:
            if ref in (e.key, e.label):
                return e
        raise KeyError(ref)


def flow_key(flow: QuotaFlow | CreateReadFlow) -> str:
    """A flow's id: the declared one, or its kind and endpoint."""
    if flow.id:
        return flow.id
    ref = flow.endpoint if isinstance(flow, QuotaFlow) else flow.create
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ref).strip("-").lower()
    return f"{flow.kind}-{slug}"
