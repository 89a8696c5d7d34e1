"""Forged credentials: a check that passes with the real token says nothing about one that passes with any token.

For every declared check (or step) and route that sends `${auth.*}` or `${secrets.*}` in `Authorization`,
`Cookie` or another credential header, two derived checks send the same request with a syntactically valid but
wrong credential (`<id>:forged-credential`: same scheme, same shape, other characters; a JWT keeps its header
and payload and gets another signature) and with none (`<id>:no-credential`); each must be refused with
401/403 (`security.forged_expect`). Login endpoints themselves are never sent a forged credential.
`security.forged_credentials: false` turns them off.

One defect fails one check: where the profile already declares the request without a credential and expects it
refused (a `require-auth` check), no `no-credential` twin is derived; and a forged credential that is accepted
where *no* credential is accepted either is the same open route, reported by that check (the forged check is then
skipped, naming it), so an `accept:` entry for the open route is enough.
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
    # the check that sends this request with no credential (declared, or the derived `no-credential` twin)
    covered_by: str | None = None


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
    refused = _declared_unauthenticated(profile)
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
        declared = refused.get((request.method, request.path))
        twin = declared or f"{source}:no-credential"
        out.append(ForgedCheck(f"{source}:forged-credential", source, request, header, "forged", expect, twin))
        if declared is None:
            out.append(ForgedCheck(twin, source, request, header, "none", expect))
    return out


def _declared_unauthenticated(profile: Profile) -> dict[tuple[str, str], str]:
    """(method, path) -> id of a declared check that sends it with no credential and expects it refused."""
    out: dict[tuple[str, str], str] = {}
    for check in profile.checks:
        request = check.request
        if request is None or _credential_header(request) is not None:
            continue
        if any(h.lower() in CREDENTIAL_HEADERS for h in request.headers):
            continue
        statuses = set(check.expect.status or [])
        if statuses and statuses <= {401, 403}:
            out.setdefault((request.method, request.path), check.id)
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
    elif check.mode == "forged" and ex.response is not None and check.covered_by:
        bare = check.request.model_copy(update={"headers": {k: v for k, v in headers.items() if k != check.header}})
        with make_client(profile) as client:
            open_ex = send(client, base_url, profile, bare)
        if open_ex.response is not None and open_ex.status not in check.expect:
            out.details["same_defect_as"] = check.covered_by  # the open route: one defect, one failed check
            out.message = (f"{request.method} {request.path} accepts no credential at all ({open_ex.status}): "
                           f"reported by {check.covered_by}, not judged again here")
    return out


def same_defect_as(result: Attempted) -> str | None:
    """The check that reports this forged check's failure already (the route accepts no credential), or None."""
    found = result.final.details.get("same_defect_as") if not result.final.ok else None
    return str(found) if found else None


def execute(check: ForgedCheck, profile: Profile, base_url: str) -> Attempted:
    """Send the derived request (transport failures retried, an answer never)."""

    def attempt() -> Outcome:
        try:
            return _attempt(check, profile, base_url)
        except TemplateError as exc:
            return Outcome(ok=False, message=f"profile error: {exc}", kind="error")

    return run_with_retries(attempt, profile.defaults.retries, profile.defaults.backoff_s)
