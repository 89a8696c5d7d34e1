"""What the fuzz stage runs for a profile: one test per endpoint or OpenAPI operation, one per flow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from synthgate.bounded import response_json
from synthgate.fuzz import local_spec
from synthgate.fuzz.openapi import Operation, operations
from synthgate.http import make_client, send_raw
from synthgate.profile import Profile
from synthgate.profile.fuzz import SAFE_METHODS, CreateReadFlow, FuzzEndpoint, QuotaFlow, flow_key


@dataclass
class FuzzItem:
    """One fuzz test: an endpoint, an OpenAPI operation or a flow; or why it cannot or may not run."""

    key: str
    kind: Literal["endpoint", "openapi", "flow"]
    endpoint: FuzzEndpoint | None = None
    operation: Operation | None = None
    flow: QuotaFlow | CreateReadFlow | None = None
    skip: str | None = None  # not run, on purpose (a write without allow_writes)
    error: str | None = None  # cannot run (the OpenAPI document is unavailable)
    error_kind: str = "error"
    round: int = 0  # repeated runs (option `repeat`): round n uses seed + n

    @property
    def check_id(self) -> str:
        """The id of this test's check in verdict.json."""
        return f"fuzz.{self.key}" + (f"#{self.round + 1}" if self.round else "")


def _write_skip(method: str, what: str) -> str | None:
    if method in SAFE_METHODS:
        return None
    return f"{what} not fuzzed: {method} is a write and the profile does not set fuzz.allow_writes"


def fetch_openapi(profile: Profile, base_url: str, location: str) -> tuple[dict | None, str | None, str]:
    """(document, error, error kind): the OpenAPI document from the target, with the synthetic headers."""
    if location.startswith("file://"):  # the team's spec file (fuzz.local_spec)
        local, problem = local_spec.read(location)
        return local, problem, "" if problem is None else "error"
    url = location if location.startswith(("http://", "https://")) else base_url.rstrip("/") + location
    with make_client(profile) as client:  # read bounded in time and size, like every response
        ex = send_raw(client, "GET", url)
    response = ex.response
    if response is None:
        return None, f"the OpenAPI document {url} could not be fetched: {ex.error}", ex.error_kind or "error"
    if response.status_code != 200:
        return None, f"the OpenAPI document {url} answered {response.status_code}, expected 200", "assertion"
    try:
        document = response_json(response)
    except ValueError:
        return None, f"the OpenAPI document {url} is not JSON", "assertion"
    if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
        return None, f"the OpenAPI document {url} has no 'paths'", "assertion"
    return document, None, ""


def build(profile: Profile, base_url: str) -> list[FuzzItem]:
    """Every fuzz test the profile asks for, in run order."""
    cfg = profile.fuzz
    if cfg is None:
        return []
    items: list[FuzzItem] = []
    from_openapi: dict[str, FuzzEndpoint] = {}  # label -> endpoint built from the document
    if cfg.openapi:
        document, error, kind = fetch_openapi(profile, base_url, cfg.openapi)
        if document is None:
            items.append(FuzzItem(key="openapi", kind="openapi", error=error, error_kind=kind))
        else:
            try:
                ops = operations(document, cfg.endpoints)
            except Exception as exc:  # noqa: BLE001 - a document Schemathesis cannot read is a failed check
                ops = []
                items.append(FuzzItem(key="openapi", kind="openapi",
                                      error=f"the OpenAPI document cannot be used: {exc.__class__.__name__}: {exc}"))
            for op in ops:
                if cfg.openapi_operations and op.label not in cfg.openapi_operations:
                    continue
                from_openapi[op.label] = op.endpoint
                items.append(FuzzItem(key=op.endpoint.key, kind="openapi", endpoint=op.endpoint, operation=op,
                                      skip=None if cfg.allow_writes else _write_skip(op.endpoint.method, op.label)))
    for endpoint in cfg.endpoints:
        if endpoint.label in from_openapi:
            continue  # the document's schema replaces the hand-declared one
        items.append(FuzzItem(key=endpoint.key, kind="endpoint", endpoint=endpoint,
                              skip=None if cfg.allow_writes else _write_skip(endpoint.method, endpoint.label)))
    for flow in cfg.flows:
        ref = flow.endpoint if isinstance(flow, QuotaFlow) else flow.create
        declared = cfg.endpoint(ref)
        endpoint = from_openapi.get(declared.label, declared)
        skip = None
        if isinstance(flow, QuotaFlow) and not cfg.allow_writes:
            skip = _write_skip(endpoint.method, f"flow {flow_key(flow)}")
        items.append(FuzzItem(key=f"flow.{flow_key(flow)}", kind="flow", endpoint=endpoint, flow=flow, skip=skip))
    return items


def runnable(items: list[FuzzItem]) -> int:
    """How many items actually send requests (they share the time budget)."""
    return sum(1 for i in items if i.skip is None and i.error is None)
