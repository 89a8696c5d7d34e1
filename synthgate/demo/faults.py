"""The demo target's fault catalog: each name is a broken release that some stage must catch."""

from __future__ import annotations

import random

FAULTS: dict[str, str] = {
    "missing-route": "POST /api/generate answers 404, as if the API functions were not deployed",
    "health-500": "GET /v1/health answers 500",
    "health-stale": "GET /v1/health reports a timestamp two hours old",
    "auth-open": "GET /manuscripts answers 200 without a token",
    "rate-limit-off": "a session's second generation answers 200 instead of 402",
    "slow": "every API and page response is delayed by 600-800 ms",
    "error-spike": "about 5 % of API responses are 500s",
    "toggle-broken": "the language toggle neither switches the texts nor stores the choice",
    "intake-broken": "submitting the intake form lands on /dashboard without the campaign",
    "crash-on-bad-input": "non-string fields or strings over 1000 characters crash intake/generate with a 500",
    "console-error": "the landing page's script throws an uncaught error",
    "page-404": "GET /intake answers 404",
    "leak-stacktrace": "every 4xx JSON error body carries a Python traceback",
    "latency-regression": "every API response is 25 ms slower than the healthy release (pages unaffected)",
    "release-not-live": "after a deploy, GET /v1/health keeps naming the previous release for 30 s",
    "cert-expiring": "served over HTTPS (self-signed CA made at start) with a certificate that expires in 3 days",
    "missing-nosniff": "no X-Content-Type-Options: nosniff header on any answer",
    "cookie-not-httponly": "the session cookie coldcopy_session is set without HttpOnly",
    "broken-link": "the landing page links /pricing, which answers 404",
    "a11y-violation": "a field of the intake form (target_company) has no label",
    "cold-start-slow": "the first call of each endpoint after a start or deploy takes 3 s (warm calls are fast)",
    "slow-endpoint": "GET /api/session alone is slow (700 ms on 30 % of answers): its P95 over budget, the mix under",
    "flaky-5xx": "2 % of API answers are 500s, at random",
    "json-stack": "every 4xx JSON error body carries a JavaScript stack trace in a `stack` field (escaped by JSON)",
    "late-lcp": "the landing page's main text is rendered by a script 3 s after load (LCP over 2.5 s)",
    "late-shift": "a banner pushes the landing page's content down 600 ms after the load event (CLS about 0.19)",
    "long-field-crash": "POST /api/intake answers 500 when any field is longer than 5,000 characters",
    "form-405": "the intake form posts to /intake, which answers 405, and the page shows the alert 'Failed to submit'",
    # taught by the real apps (synthgate/demo/contract_faults.py)
    "fields-renamed": "GET /api/session names its quota fields generationsUsed/maxGenerations (camelCase drift)",
    "toggle-not-saved": "the language toggle switches the texts but never stores the choice in localStorage",
    # what a user meets that the gate used to let through (synthgate/demo/user_faults.py)
    "dashboard-late-error": "the dashboard throws a TypeError 200 ms after it shows the campaign",
    "forged-token-accepted": "GET /manuscripts answers 200 to any bearer token (still 401 without one)",
    "post-cookie-no-flags": "a successful POST /api/generate sets the session cookie without HttpOnly and SameSite",
    "session-public-cache": "GET /api/session, a per-session answer, is sent Cache-Control: public, max-age=600",
    "untranslated-keys": "after the language toggle, two landing texts show raw keys (landing.tagline) in Chinese",
    "zh-page-500": "GET / answers 500 when Accept-Language prefers Chinese",
    "stored-xss": "the dashboard renders the campaign's fields as HTML: a value typed into the form runs as script",
}

# What a leaked traceback looks like: realistic enough that a security check must recognise it.
LEAKED_TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/srv/app/handlers.py", line 42, in generate\n'
    "    payload = validate(request.json())\n"
    '  File "/srv/app/validation.py", line 17, in validate\n'
    '    raise ValidationError(f"invalid field {name!r}")\n'
    "validation.ValidationError: invalid field 'companyName'\n"
)

# What a Workers/Pages function leaks when it returns `err.stack`: JSON escapes its newlines.
JS_STACK = (
    "TypeError: Cannot read properties of undefined (reading 'trim')\n"
    "    at onRequestPost (functions/api/generate.js:42:17)\n"
    "    at async handleRequest (functions/_middleware.js:12:5)"
)

# Error-spike rate and the delays, kept here so tests and docs quote one number.
ERROR_SPIKE_RATE = 0.05
SLOW_DELAY_S = (0.6, 0.8)
LATENCY_REGRESSION_S = 0.025
FLAKY_5XX_RATE = 0.02
SLOW_ENDPOINT_PATH = "/api/session"
SLOW_ENDPOINT_SHARE = 0.3  # of that endpoint's answers are delayed
SLOW_ENDPOINT_DELAY_S = 0.7
# Strings longer than this crash the `crash-on-bad-input` release.
CRASH_STRING_LENGTH = 1000
# Fields longer than this crash `POST /api/intake` in the `long-field-crash` release.
LONG_FIELD_LENGTH = 5000


def check_fault(name: str | None) -> str | None:
    """Return `name` if it is a known fault (or None for healthy); raise ValueError otherwise."""
    if name is None or name in FAULTS:
        return name
    known = ", ".join(sorted(FAULTS))
    raise ValueError(f"unknown fault {name!r}; known faults: {known}")


def api_delay_s(fault: str | None) -> float:
    """Extra seconds an API response waits under `fault`."""
    if fault == "slow":
        return random.uniform(*SLOW_DELAY_S)
    if fault == "latency-regression":
        return LATENCY_REGRESSION_S
    return 0.0


def endpoint_delay_s(fault: str | None, path: str) -> float:
    """Extra seconds one endpoint waits under `slow-endpoint` (the others answer at once)."""
    if fault == "slow-endpoint" and path == SLOW_ENDPOINT_PATH and random.random() < SLOW_ENDPOINT_SHARE:
        return SLOW_ENDPOINT_DELAY_S
    return 0.0


def page_delay_s(fault: str | None) -> float:
    """Extra seconds a page response waits under `fault`."""
    if fault == "slow":
        return random.uniform(*SLOW_DELAY_S)
    return 0.0


def spike_error(fault: str | None) -> bool:
    """Whether this API response should be a random 500 under `fault`."""
    if fault == "flaky-5xx":
        return random.random() < FLAKY_5XX_RATE
    return fault == "error-spike" and random.random() < ERROR_SPIKE_RATE
