"""The profile model: what a target is and what the gate checks on it."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from synthgate.profile.accept import Acceptance
from synthgate.profile.auth import AuthConfig
from synthgate.profile.common import Duration, Regex, StatusSet, Strict
from synthgate.profile.contract import Drift, Unverifiable
from synthgate.profile.e2e import E2EConfig, Journey
from synthgate.profile.fuzz import FuzzConfig
from synthgate.profile.load import LoadConfig
from synthgate.profile.probe import Alert, ProbeConfig
from synthgate.profile.readiness import HygieneConfig, LinksConfig, ReleaseConfig, TlsConfig
from synthgate.profile.rollout import Rollout

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _one_or_many(value: Any) -> Any:
    """`text: marker` stands for `text: [marker]`."""
    return [value] if isinstance(value, str) else value


TextOrList = Annotated[list[str], BeforeValidator(_one_or_many, json_schema_input_type=str | list[str])]


class SecretRef(Strict):
    """A secret: only its environment variable's name is in the profile, never the value."""

    env: str
    required: bool = False


class Defaults(Strict):
    """Defaults every check inherits."""

    timeout_s: float = Field(default=10.0, gt=0, le=600)
    retries: int = Field(default=2, ge=0, le=10)
    backoff_s: float = Field(default=0.5, ge=0, le=60)
    latency_budget_ms: float = Field(default=2000.0, gt=0)
    # 5xx answers allowed over every request the gate sends (all stages); a 5xx is never retried away
    max_server_error_rate: float = Field(default=0.01, ge=0, le=1)
    # the first request to each endpoint in a run (a serverless cold start) is judged apart, by this budget
    cold_budget_ms: float = Field(default=3000.0, gt=0)
    # decoded size cap of every response body (decompression included): a gzip bomb stops here
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=1 << 30)


class Expect(Strict):
    """What a response must look like."""

    status: StatusSet | None = None
    not_status: StatusSet = Field(default_factory=lambda: [404])  # "never 404" unless told otherwise
    json_fields: dict[str, Any] = Field(default_factory=dict, alias="json")  # dotted path -> exact value
    json_types: dict[str, Literal["string", "number", "integer", "boolean", "object", "array", "null"]] = (
        Field(default_factory=dict)
    )
    fresh: dict[str, Duration] = Field(default_factory=dict)  # dotted path of an ISO timestamp -> max age
    headers: dict[str, Regex] = Field(default_factory=dict)  # header name -> regex its value must match
    text: TextOrList | None = None  # marker text(s) the body must contain: a string, or a list (each one)
    text_regex: Regex | None = None
    not_text: TextOrList = Field(default_factory=list)  # text(s) the body must not contain: a string or a list
    content_type: str | None = None  # e.g. application/json (prefix match)
    not_html: bool = False  # an API answered by an HTML page (SPA fallback) means "not deployed"
    drift: list[Drift] = Field(default_factory=list)  # known departures from this contract: still fail
    unverifiable: list[Unverifiable] = Field(default_factory=list)  # answers that prove nothing here: no-data


class Request(Strict):
    """One HTTP request; strings may hold ${secrets.NAME} and ${vars.NAME}, a whole value may be $name."""

    method: Method = "GET"
    path: str
    json_body: Any = Field(default=None, alias="json")
    body: str | None = None  # raw body, sent as is (e.g. malformed JSON)
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str] = Field(default_factory=dict)
    follow_redirects: bool = True

    @field_validator("path")
    @classmethod
    def _path_is_relative(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("expected a path starting with '/'")
        return value


class Step(Strict):
    """One request and its expectation inside a multi-step check (steps share a cookie jar)."""

    request: Request
    expect: Expect = Field(default_factory=Expect)
    save: dict[str, str] = Field(default_factory=dict)  # name -> dotted JSON path; later steps use ${saved.name}
    # a read of an eventually consistent store (KV): re-sent every `interval` until its expectation holds or
    # `eventually` has passed; the time it took is reported (details.eventually) and recorded by probes
    eventually: Duration | None = Field(default=None, gt=0, le=3600)
    interval: Duration = Field(default=1.0, gt=0, le=600)


class Auth(AuthConfig):
    """The `auth:` section (synthgate/profile/auth.py), its login steps typed as steps."""

    steps: list[Step] = Field(default_factory=list)


class Check(Strict):
    """A declared smoke check: one request, or several steps in one session."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    description: str = ""
    request: Request | None = None
    expect: Expect = Field(default_factory=Expect)
    steps: list[Step] = Field(default_factory=list)
    retries: int | None = Field(default=None, ge=0, le=10)
    # may a retry re-run the steps from the start? default: only when every step is a safe method (GET/HEAD)
    retry: Literal["from_start", "never"] | None = None
    budget_ms: float | None = Field(default=None, gt=0)
    cold_budget_ms: float | None = Field(default=None, gt=0)  # its endpoints' first request in a run
    runbook: list[int] = Field(default_factory=list)  # RUNBOOK-CHECKS.md items this check automates
    every: Duration | None = None  # probe interval of this check, when it differs from the profile's

    @property
    def retry_policy(self) -> Literal["from_start", "never"]:
        """The declared retry policy, or the default: steps that write must not be re-run blindly."""
        if self.retry is not None:
            return self.retry
        safe = all(step.request.method in ("GET", "HEAD", "OPTIONS") for step in self.steps)
        return "from_start" if safe else "never"

    @model_validator(mode="after")
    def _request_or_steps(self) -> Check:
        if (self.request is None) == (not self.steps):
            raise ValueError("expected exactly one of 'request' or 'steps'")
        return self


class Health(Strict):
    """The health endpoint check."""

    id: str = "health"
    path: str = "/health"
    method: Method = "GET"
    expect: Expect = Field(default_factory=lambda: Expect(status=[200]))
    budget_ms: float | None = None
    cold_budget_ms: float | None = Field(default=None, gt=0)
    runbook: list[int] = Field(default_factory=list)
    every: Duration | None = None


class Route(Strict):
    """A declared API route: a minimal invalid request must be rejected with a 4xx, not 404."""

    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]+$")  # default: route-exists:METHOD path
    method: Method = "POST"
    path: str
    json_body: Any = Field(default_factory=dict, alias="json")  # the minimal invalid request
    headers: dict[str, str] = Field(default_factory=dict)
    allow_405: bool = False
    expect_status: StatusSet | None = None  # narrower than "any 4xx but 404"
    cold_budget_ms: float | None = Field(default=None, gt=0)
    runbook: list[int] = Field(default_factory=list)

    @property
    def check_id(self) -> str:
        """The id of its smoke check: the declared one, else route-exists:METHOD path."""
        return self.id or f"route-exists:{self.method} {self.path}"


class Page(Strict):
    """A page that must answer 200 with its marker text within a budget."""

    id: str
    path: str
    expect: Expect = Field(default_factory=lambda: Expect(status=[200]))
    budget_ms: float | None = None
    cold_budget_ms: float | None = Field(default=None, gt=0)
    runbook: list[int] = Field(default_factory=list)


class Security(Strict):
    """The security baseline."""

    enabled: bool = True
    cors_paths: list[str] = Field(default_factory=list)  # defaults to the health path and the routes
    probe_origin: str = "https://evil.synthgate.invalid"
    allowed_origins: list[str] = Field(default_factory=list)  # origins the site may legitimately allow
    require_cors_header_for: list[str] = Field(default_factory=list)  # paths that must send ACAO
    # each check/route sending ${auth.*} or a secret in a credential header gets <id>:forged-credential and
    # <id>:no-credential (synthgate/checks/forged.py): both must be refused with one of forged_expect
    forged_credentials: bool = True
    forged_expect: list[Annotated[int, Field(ge=400, le=499)]] = Field(default_factory=lambda: [401, 403],
                                                                      min_length=1)
    runbook: list[int] = Field(default_factory=list)


class Rollback(Strict):
    """The deployment's rollback action."""

    command: list[str] | str
    shell: bool = False  # a string command runs through a shell only when this is set
    timeout_s: float = Field(default=120.0, gt=0, le=3600)
    # `error` (synthgate or the team's test code broke) rolls back only when listed here
    on: list[Literal["fail", "inconclusive", "error"]] = Field(default_factory=lambda: ["fail"])
    env: dict[str, str] = Field(default_factory=dict)
    verify: bool = True  # re-run smoke afterwards
    settle_s: float = Field(default=0.0, ge=0, le=600)  # wait before re-verifying (CDN propagation)
    # data-aware rollback (run only when the release changes data: rollout.changes_data or --changes-data):
    # `snapshot` runs before the rollout or gate and its output is kept; `restore` gets it as {snapshot}
    snapshot: list[str] | None = None
    restore: list[str] | None = None

    @model_validator(mode="after")
    def _shell_only_when_asked(self) -> Rollback:
        if isinstance(self.command, str) and not self.shell:
            raise ValueError("expected an argument list; a string command needs 'shell: true'")
        if isinstance(self.command, list) and not self.command:
            raise ValueError("expected a non-empty argument list")
        if (self.snapshot is None) != (self.restore is None):
            raise ValueError("expected both 'snapshot' and 'restore' (a data restore needs its snapshot)")
        if self.restore is not None and not re.search(r"\{snapshot(\.[A-Za-z0-9_.]+)?\}", " ".join(self.restore)):
            raise ValueError("expected 'restore' to name {snapshot} (the snapshot command's output) or "
                             "{snapshot.FIELD} (a field of its JSON output)")
        return self


class BaselineConfig(Strict):
    """How a run is compared with the previous release."""

    enabled: bool = True
    max_regression: float = Field(default=0.20, gt=0)
    confidence: float = Field(default=0.99, gt=0.5, lt=1)
    min_effect_ms: float = Field(default=5.0, ge=0)  # floor on the Hodges-Lehmann shift
    min_samples: int = Field(default=30, ge=5)
    min_error_increase: float = Field(default=0.005, ge=0, le=1)  # error-rate rise (fraction) below which no alarm


class RunbookNote(Strict):
    """A runbook item automated by a profile section rather than one check id, or not automatable, and why."""

    runbook: int = Field(ge=1)
    covered_by: Literal["load", "probe", "e2e", "fuzz", "rollback", "baseline", "not-automatable"]
    note: str


class Profile(Strict):
    """A target profile."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    base_url: str | None = None
    embedded_demo: bool = False  # without a base URL, start the embedded demo target
    headers: dict[str, str] = Field(default_factory=lambda: {"X-Synthetic-Check": "synthgate"})
    secrets: dict[str, SecretRef] = Field(default_factory=dict)
    auth: Auth | None = None  # log in once; ${auth.NAME} in every check, journey, fuzz endpoint and load task
    defaults: Defaults = Field(default_factory=Defaults)
    vars: dict[str, Any] = Field(default_factory=dict)
    health: Health | None = None
    routes: list[Route] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    pages: list[Page] = Field(default_factory=list)
    security: Security = Field(default_factory=Security)
    e2e: E2EConfig = Field(default_factory=E2EConfig)
    journeys: list[Journey] = Field(default_factory=list)
    fuzz: FuzzConfig | None = None
    load: LoadConfig | None = None
    rollback: Rollback | None = None
    rollout: Rollout | None = None  # `synthgate rollout`: progressive delivery by traffic split
    probe: ProbeConfig = Field(default_factory=ProbeConfig)
    alerts: list[Alert] = Field(default_factory=list)
    baseline: BaselineConfig = Field(default_factory=BaselineConfig)
    runbook_notes: list[RunbookNote] = Field(default_factory=list)
    release: ReleaseConfig = Field(default_factory=ReleaseConfig)  # wait for the new release to be live
    tls: TlsConfig = Field(default_factory=TlsConfig)
    hygiene: HygieneConfig = Field(default_factory=HygieneConfig)
    links: LinksConfig = Field(default_factory=LinksConfig)
    # the team's own pytest checks: <profile's folder>/<checks_dir>/<stage>/, run in each stage beside the bundled ones
    checks_dir: str = "tests"
    # known defects set aside until a date: a matching failure is `accepted` (see synthgate/accept.py)
    accept: list[Acceptance] = Field(default_factory=list)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/") if value else value

    @field_validator("routes")
    @classmethod
    def _unique_routes(cls, routes: list[Route]) -> list[Route]:
        seen: dict[str, int] = {}
        for n, route in enumerate(routes):
            if route.check_id in seen:
                raise ValueError(f"expected unique check ids: routes[{n}] has the id '{route.check_id}' of "
                                 f"routes[{seen[route.check_id]}]; give one of them its own `id:`")
            seen[route.check_id] = n
        return routes

    @model_validator(mode="after")
    def _unique_check_ids(self) -> Profile:
        seen: dict[str, str] = {}
        named = [(self.health.id, "health.id")] if self.health else []
        named += [(r.check_id, f"routes[{n}]") for n, r in enumerate(self.routes)]
        named += [(c.id, f"checks[{n}].id") for n, c in enumerate(self.checks)]
        named += [(p.id, f"pages[{n}].id") for n, p in enumerate(self.pages)]
        for cid, where in named:
            if cid in seen:
                raise ValueError(f"expected unique check ids: {where} is '{cid}', as {seen[cid]} is; give one of "
                                 "them another id")
            seen[cid] = where
        # journeys name their checks <journey>.<step>, so a journey may share its id with a page
        journey_ids = [j.id for j in self.journeys]
        for jid in journey_ids:
            if journey_ids.count(jid) > 1:
                raise ValueError(f"expected unique journey ids, '{jid}' appears twice")
        return self
