"""Forged credentials: a check that passes with the real token says nothing about one that passes with any token.

For every declared check (or step) and route that sends `${auth.*}` or `${secrets.*}` in `Authorization`,
`Cookie` or another credential header, two derived checks send the same request with a syntactically valid but
wrong credential (`<id>:forged-credential`: same scheme, same shape, other characters; a JWT keeps its header
and payload and gets another signature) and with none (`<id>:no-credential`); each must be refused with
401/403 (`security.forged_expect`). Login endpoints themselves are never sent a forged credential.
`security.forged_credentials: false` turns them off.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from typing import Literal

from synthgate.checks.expect import check_response
from synthgate.checks.outcome import Attempted, Outcome, run_with_retries
from synthgate.http import TemplateError, expand, make_client, send
from synthgate.profile.model import Expect, Profile, Request

CREDENTIAL_HEADERS = ("authorization", "cookie", "x-api-key", "x-auth-token", "proxy-authorization")
_CREDENTIAL_TEMPLATE = re.compile(r"\$\{(auth|secrets)\.")
_LOGIN_PATH = re.compile(r"(?i)(log-?in|sign-?in|oauth|/token\b|/session/new)")
_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
Mode = Literal["forged", "none"]


@dataclass(frozen=True)
class ForgedCheck:
    """One derived check: `request` as declared, sent with its credential header forged or left out."""

    id: str
    source: str  # the check or route it comes from
    request: Request
    header: str
    mode: Mode
    expect: tuple[int, ...]


def _credential_header(request: Request) -> str | None:
    for name, value in request.headers.items():
        if name.lower() in CREDENTIAL_HEADERS and _CREDENTIAL_TEMPLATE.search(str(value)):
            return name
    return None


def _login_paths(profile: Profile) -> set[str]:
    return {step.request.path for step in (profile.auth.steps if profile.auth is not None else [])}


def plan(profile: Profile) -> list[ForgedCheck]:
    """Every derived forged/no-credential check of the profile (none when security.forged_credentials is off)."""
    if not profile.security.enabled or not profile.security.forged_credentials:
        return []
    expect = tuple(profile.security.forged_expect)
    sources: list[tuple[str, Request]] = []
    for check in profile.checks:
        requests = [check.request] if check.request is not None else [s.request for s in check.steps]
        # a step that needs an earlier step's saved value cannot be sent alone
        sources += [(check.id, r) for r in requests if r is not None and "${saved." not in r.model_dump_json()]
    for route in profile.routes:
        sources.append((f"route-exists:{route.method} {route.path}",
                        Request(method=route.method, path=route.path, json=route.json_body, headers=route.headers)))
    logins = _login_paths(profile)
    out: list[ForgedCheck] = []
    seen: set[tuple[str, str, str]] = set()
    for source, request in sources:
        header = _credential_header(request)
        if header is None or request.path in logins or _LOGIN_PATH.search(request.path):
            continue
        key = (request.method, request.path, header.lower())
        if key in seen:
            continue
        seen.add(key)
        for mode, suffix in (("forged", "forged-credential"), ("none", "no-credential")):
            out.append(ForgedCheck(f"{source}:{suffix}", source, request, header, mode, expect))  # type: ignore[arg-type]
    return out


def _same_shape(value: str) -> str:
    """Another string of the same length and character classes (a prefix such as `sgd_` kept)."""
    cut = max(value.rfind("_", 0, 8), value.rfind("-", 0, 8)) + 1
    head, tail = value[:cut], value[cut:]
    pools = (string.digits, string.ascii_lowercase, string.ascii_uppercase)
    while True:
        forged = "".join(secrets.choice(next((p for p in pools if c in p), c)) for c in tail)
        if forged != tail or not tail:
            return head + forged


def forge_token(token: str) -> str:
    """A syntactically valid but wrong token: a JWT re-signed with garbage, anything else reshuffled."""
    if _JWT.match(token):
        header, payload, signature = token.split(".")
        return f"{header}.{payload}.{_same_shape(signature) if signature else _same_shape(payload)}"
    return _same_shape(token)


def forge_header(name: str, value: str) -> str:
    """The credential header's value with its secret part forged (scheme and cookie names kept)."""
    if name.lower() == "cookie":
        pairs = []
        for part in value.split(";"):
            key, eq, val = part.strip().partition("=")
            pairs.append(f"{key}={forge_token(val)}" if eq else part.strip())
        return "; ".join(pairs)
    scheme, space, token = value.partition(" ")
    if space and token.strip():
        return f"{scheme} {forge_token(token.strip())}"
    return forge_token(value)


def _attempt(check: ForgedCheck, profile: Profile, base_url: str) -> Outcome:
    headers = {k: v for k, v in check.request.headers.items() if k != check.header}
    if check.mode == "forged":
        real = str(expand(check.request.headers[check.header], profile))
        headers[check.header] = forge_header(check.header, real)
    request = check.request.model_copy(update={"headers": headers})
    with make_client(profile) as client:
        ex = send(client, base_url, profile, request)
    what = "a forged credential" if check.mode == "forged" else "no credential"
    failures = check_response(ex, Expect(status=list(check.expect)), None)
    if ex.response is not None and failures:
        failures[0] = (f"{request.method} {request.path} sent {what} in {check.header} answered {ex.status}: "
                       f"expected it refused ({' or '.join(map(str, check.expect))}); the check {check.source} "
                       f"sends the real one")
    retryable = ex.response is None
    kind = "assertion" if ex.response is not None else "error"
    out = Outcome.from_failures(failures, [ex], kind, retryable=retryable)
    if out.ok:
        out.message = f"{what} refused with {ex.status}"
    return out


def execute(check: ForgedCheck, profile: Profile, base_url: str) -> Attempted:
    """Send the derived request (transport failures retried, an answer never)."""

    def attempt() -> Outcome:
        try:
            return _attempt(check, profile, base_url)
        except TemplateError as exc:
            return Outcome(ok=False, message=f"profile error: {exc}", kind="error")

    return run_with_retries(attempt, profile.defaults.retries, profile.defaults.backoff_s)
