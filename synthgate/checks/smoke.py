"""The smoke checks: one attempt function per kind (health, route-exists, declared request, page, CORS), their plans,
the endpoints they touch first, and `execute`, which retries an attempt. The kinds are declared in
synthgate.checks.registry."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from synthgate.checks import cold, contract
from synthgate.checks.expect import LATENCY_FAILURE, check_response, save_values
from synthgate.checks.outcome import Attempted, Outcome, pinned_evidence, run_with_retries
from synthgate.checks.security import cors_paths, cors_problems
from synthgate.http import TemplateError, make_client, send, send_raw
from synthgate.profile.model import Check, Expect, Health, Page, Profile, Request, Route, Step

Kind = str  # a kind's name in synthgate.checks.registry: "health" | "route" | "check" | "page" | "cors" | ...
Attempt = Callable[[Profile, str, Any], Outcome]  # one attempt of a check: (profile, base URL, spec) -> Outcome


@dataclass
class SmokeCheck:
    """One planned check that one attempt function runs: an id, its kind, the profile entry it comes from, the
    attempt (retried by `execute`)."""

    id: str
    kind: Kind
    spec: Any
    retries: int
    attempt: Attempt
    runbook: list[int] = field(default_factory=list)
    every: float | None = None

    @property
    def requests(self) -> int:
        """How many requests one attempt sends (a declared check's steps), for its time budget."""
        return max(1, len(getattr(self.spec, "steps", None) or []))


def health_checks(profile: Profile) -> list[SmokeCheck]:
    """The health check, when the profile declares a health endpoint."""
    h = profile.health
    return [] if h is None else [SmokeCheck(h.id, "health", h, profile.defaults.retries, health, h.runbook, h.every)]


def route_checks(profile: Profile) -> list[SmokeCheck]:
    """One route-exists check per declared route."""
    retries = profile.defaults.retries
    return [SmokeCheck(route.check_id, "route", route, retries, route_exists, route.runbook)
            for route in profile.routes]


def declared_checks(profile: Profile) -> list[SmokeCheck]:
    """One check per declared check, with its own retries."""
    out = []
    for check in profile.checks:
        r = check.retries if check.retries is not None else profile.defaults.retries
        if check.steps and check.retry_policy == "never":
            r = 0  # re-running steps that changed server state would fail for another reason than the first
        out.append(SmokeCheck(check.id, "check", check, r, declared, check.runbook, check.every))
    return out


def page_checks(profile: Profile) -> list[SmokeCheck]:
    """One check per declared page."""
    return [SmokeCheck(f"page:{p.id}", "page", p, profile.defaults.retries, page, p.runbook) for p in profile.pages]


def cors_checks(profile: Profile) -> list[SmokeCheck]:
    """One CORS check per path the security baseline probes (none when it is off)."""
    if not profile.security.enabled:
        return []
    return [SmokeCheck(f"cors:{path}", "cors", path, profile.defaults.retries, cors, profile.security.runbook)
            for path in cors_paths(profile)]


def execute(check: SmokeCheck, profile: Profile, base_url: str) -> Attempted:
    """Run a planned check with bounded retries and backoff."""

    def attempt() -> Outcome:
        try:
            return pinned_evidence(check.attempt(profile, base_url, check.spec))
        except TemplateError as exc:
            return Outcome(ok=False, message=f"profile error: {exc}", kind="error")

    return run_with_retries(attempt, check.retries, profile.defaults.backoff_s)


# ---- the endpoints each kind touches, for the cold-start checks (synthgate.checks.cold) ----


def health_cold(profile: Profile) -> list[cold.ColdSample]:
    """The health endpoint, woken by its own request when that is safe."""
    h = profile.health
    if h is None:
        return []
    probe = Request(method=h.method, path=h.path) if h.method in cold.SAFE_METHODS else None
    return [cold.ColdSample(h.path, h.id, h.cold_budget_ms, probe, cold.WAKE_DECLARED, cold.LIST_HEALTH)]


def page_cold(profile: Profile) -> list[cold.ColdSample]:
    """Each page, woken by a GET of it."""
    return [cold.ColdSample(p.path, f"page:{p.id}", p.cold_budget_ms, Request(path=p.path), cold.WAKE_DECLARED,
                            cold.LIST_PAGE) for p in profile.pages]


def route_cold(profile: Profile) -> list[cold.ColdSample]:
    """Each route, woken by its minimal invalid request."""
    return [cold.ColdSample(r.path, r.check_id, r.cold_budget_ms,
                            Request(method=r.method, path=r.path, json=r.json_body, headers=r.headers),
                            cold.WAKE_ROUTE, cold.LIST_ROUTE) for r in profile.routes]


def declared_cold(profile: Profile) -> list[cold.ColdSample]:
    """Each request of each declared check; only a safe one may wake its endpoint."""
    out = []
    for check in profile.checks:
        requests = [check.request] if check.request is not None else [s.request for s in check.steps]
        for request in requests:
            assert request is not None
            safe = request if request.method in cold.SAFE_METHODS else None
            out.append(cold.ColdSample(request.path, check.id, check.cold_budget_ms, safe, cold.WAKE_DECLARED,
                                       cold.LIST_CHECK))
    return out


def cors_cold(profile: Profile) -> list[cold.ColdSample]:
    """Each path the CORS check probes, woken by a plain GET (no budget of its own)."""
    if not profile.security.enabled:
        return []
    return [cold.ColdSample(path, f"cors:{path}", None, Request(path=path), cold.WAKE_CORS, cold.LIST_CORS)
            for path in cors_paths(profile)]


def _budget(profile: Profile, own: float | None) -> float:
    return own if own is not None else profile.defaults.latency_budget_ms


def _transport_kind(outcome_exchanges: list[Any]) -> str:
    """'unreachable' when no exchange got any answer for lack of a connection, else 'assertion'."""
    if outcome_exchanges and all(ex.error_kind == "unreachable" for ex in outcome_exchanges):
        return "unreachable"
    if any(ex.response is None for ex in outcome_exchanges):
        return "error"
    return "assertion"


def _single(profile: Profile, base_url: str, request: Request, expect: Expect, budget: float) -> Outcome:
    with make_client(profile) as client:
        ex = send(client, base_url, profile, request)
        if ex.cold and request.method in cold.SAFE_METHODS:
            ex = send(client, base_url, profile, request)  # that was the endpoint's cold start: judge a warm one
    failures = check_response(ex, expect, None if ex.cold else budget)
    outcome = Outcome.from_failures(failures, [ex], _transport_kind([ex]), retryable=_retryable(ex, failures))
    return contract.apply(outcome, ex, expect, failures)


def _retryable(ex: Any, failures: list[str]) -> bool:
    """Transport failures are retried; so is an answer whose only fault is its latency (one slow request says as
    much about the runner's machine as about the deployment, and the load stage judges latency on many samples).
    Anything else the deployment answered, a 5xx above all, is evidence and is not retried."""
    return ex.response is None or (bool(failures) and all(f.startswith(LATENCY_FAILURE) for f in failures))


def health(profile: Profile, base_url: str, spec: Health) -> Outcome:
    """The health endpoint answers with its expected status and body, fresh, within budget."""
    request = Request(method=spec.method, path=spec.path)
    return _single(profile, base_url, request, spec.expect, _budget(profile, spec.budget_ms))


def route_exists(profile: Profile, base_url: str, route: Route) -> Outcome:
    """A minimal invalid request gets a 4xx that is not 404 and not an HTML fallback page: the route is deployed."""
    request = Request(method=route.method, path=route.path, json=route.json_body, headers=route.headers)
    allowed = route.expect_status or [s for s in range(400, 500) if s != 404 and (s != 405 or route.allow_405)]
    expect = Expect(status=allowed, not_status=[404], not_html=True)
    outcome = _single(profile, base_url, request, expect, profile.defaults.latency_budget_ms)
    if not outcome.ok and outcome.exchanges and outcome.exchanges[0].status == 404:
        outcome.message = f"route not deployed: {route.method} {route.path} answered 404; " + outcome.message
    return outcome


def declared(profile: Profile, base_url: str, check: Check) -> Outcome:
    """A declared check: one request, or steps sharing one cookie jar (one session)."""
    budget = _budget(profile, check.budget_ms)
    if check.request is not None:
        return _single(profile, base_url, check.request, check.expect, budget)
    exchanges = []
    saved: dict[str, Any] = {}
    waits: list[dict[str, Any]] = []
    with make_client(profile) as client:
        for n, step in enumerate(check.steps, 1):
            ex, failures = _step(client, base_url, profile, step, saved, budget, waits, n)
            exchanges.append(ex)
            if failures:
                retryable = _retryable(ex, failures)
                failures[0] = f"step {n} ({step.request.method} {step.request.path}): {failures[0]}"
                outcome = Outcome.from_failures(failures, exchanges, _transport_kind([ex]), retryable=retryable)
                outcome.details = {"eventually": waits} if waits else {}
                return contract.apply(outcome, ex, step.expect, failures)
    return Outcome(ok=True, message="ok", exchanges=exchanges, details={"eventually": waits} if waits else {})


def _step(client: httpx.Client, base_url: str, profile: Profile, step: Step, saved: dict[str, Any], budget: float,
          waits: list[dict[str, Any]], n: int) -> tuple[Any, list[str]]:
    """One step; with `eventually`, re-sent every `interval` until its expectation holds or the bound passes
    (a read after a write to an eventually consistent store), the time it took appended to `waits`."""
    started = time.monotonic()
    polls = 0
    while True:
        polls += 1
        ex = send(client, base_url, profile, step.request, saved)
        # a cold start (the run's first request to this endpoint) is judged by its cold-start check instead
        warm_budget = None if ex.cold else budget
        failures = check_response(ex, step.expect, warm_budget)
        waited = time.monotonic() - started
        if step.eventually is None:
            break
        if not failures or ex.response is None or waited + step.interval > step.eventually:
            waits.append({"step": n, "held": not failures, "waited_s": round(waited, 3), "polls": polls,
                          "bound_s": step.eventually})
            if failures:
                failures[0] += f" (still after {waited:.1f} s and {polls} reads; eventually: {step.eventually:g} s)"
            break
        time.sleep(step.interval)
    return ex, failures + save_values(ex, step.save, saved)


def page(profile: Profile, base_url: str, spec: Page) -> Outcome:
    """A page answers 200 with its marker text within its budget."""
    return _single(profile, base_url, Request(path=spec.path), spec.expect, _budget(profile, spec.budget_ms))


def cors(profile: Profile, base_url: str, path: str) -> Outcome:
    """A request from a foreign origin is not granted credentialed access; required CORS headers are present."""
    sec = profile.security
    with make_client(profile) as client:
        ex = send_raw(client, "GET", base_url.rstrip("/") + path, {"Origin": sec.probe_origin})
    if ex.response is None:
        return Outcome(ok=False, message=ex.error or "no response", kind=_transport_kind([ex]), exchanges=[ex],
                       curl=ex.curl())
    failures = cors_problems(ex, sec.probe_origin, sec.allowed_origins)
    exchanges = [ex]
    if path in sec.require_cors_header_for:
        # a legitimate origin must be granted: the site's own, or the first one the profile allows
        origin = sec.allowed_origins[0] if sec.allowed_origins else str(httpx.URL(base_url).copy_with(path="/"))
        origin = origin.rstrip("/")
        with make_client(profile) as client:
            own = send_raw(client, "GET", base_url.rstrip("/") + path, {"Origin": origin})
        exchanges.append(own)
        if own.response is None or "access-control-allow-origin" not in own.response.headers:
            failures.append(f"Access-Control-Allow-Origin missing for the allowed origin {origin}")
    return Outcome.from_failures(failures, exchanges)
