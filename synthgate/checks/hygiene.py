"""Deploy hygiene: security headers and session-cookie flags on pages and API answers, banners without versions,
no per-user answer cacheable by shared caches.

Each item is its own check (`hygiene:nosniff`, ...), so a report names what is missing; the answers they look at
are fetched once per process and re-fetched before an item fails on them, so one blip never fails it. The cookie
items and `cache_private` also judge every answer the run saw so far (synthgate/checks/seen.py: any check's,
journey's or fuzz request's), each finding naming where it came from.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from synthgate import run_state
from synthgate.checks import seen
from synthgate.checks.findings import judge
from synthgate.checks.outcome import Outcome
from synthgate.http import Exchange, expand, make_client, send_raw
from synthgate.profile.model import Profile
from synthgate.profile.readiness import HygieneConfig

# item (the hygiene: field) -> check id suffix
ITEMS = {
    "nosniff": "nosniff",
    "framing": "framing",
    "csp": "csp",
    "referrer_policy": "referrer-policy",
    "cookie_secure": "cookie-secure",
    "cookie_httponly": "cookie-httponly",
    "cookie_samesite": "cookie-samesite",
    "server_banner": "server-banner",
    "cache_private": "cache-private",
}
# items also judged on the answers the whole run saw (the seen-answers ledger), not only on their own fetches
SEEN_ITEMS = frozenset({"cookie_secure", "cookie_httponly", "cookie_samesite", "cache_private"})
_VERSION = re.compile(r"\d+\.\d+")
_BANNER_HEADERS = ("server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version")
_CACHE_S = 60.0


@dataclass(frozen=True)
class Answer:
    """One answer looked at: how it was asked for, and its headers."""

    label: str  # e.g. "GET /" or "POST /api/generate"
    headers: httpx.Headers
    https: bool
    credentialed: bool = False  # the request carried a Cookie or Authorization header

    @property
    def is_html(self) -> bool:
        """Whether the answer is an HTML document (where CSP, framing and referrer policy matter)."""
        return self.headers.get("content-type", "").lower().startswith(("text/html", "application/xhtml"))


def cookie_flags(set_cookie: str) -> tuple[str, set[str], str | None]:
    """(name, lower-case attribute names, SameSite value) of one Set-Cookie value."""
    name = set_cookie.split("=", 1)[0].strip()
    attributes: set[str] = set()
    samesite: str | None = None
    for part in set_cookie.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        key = key.strip().lower()
        if key:
            attributes.add(key)
        if key == "samesite":
            samesite = value.strip()
    return name, attributes, samesite


def _session_cookie(name: str, cfg: HygieneConfig) -> bool:
    if not cfg.session_cookies:
        return True
    return name in cfg.session_cookies


def item_findings(item: str, answer: Answer, cfg: HygieneConfig) -> list[str]:
    """What one answer lacks for one hygiene item (empty when it is fine or the item does not apply)."""
    h = answer.headers
    if item == "nosniff":
        if h.get("x-content-type-options", "").strip().lower() != "nosniff":
            return ["X-Content-Type-Options: nosniff missing"]
    elif item == "framing" and answer.is_html:
        csp = h.get("content-security-policy", "").lower()
        xfo = h.get("x-frame-options", "").strip().upper()
        if "frame-ancestors" not in csp and xfo not in ("DENY", "SAMEORIGIN"):
            return ["no framing policy (CSP frame-ancestors or X-Frame-Options)"]
    elif item == "csp" and answer.is_html:
        if not h.get("content-security-policy", "").strip():
            return ["Content-Security-Policy missing"]
    elif item == "referrer_policy" and answer.is_html:
        if not h.get("referrer-policy", "").strip():
            return ["Referrer-Policy missing"]
    elif item.startswith("cookie_"):
        return _cookie_findings(item, answer, cfg)
    elif item == "cache_private":
        return cache_findings(answer)
    elif item == "server_banner":
        return [f"{name}: {h[name]} names a version" for name in _BANNER_HEADERS
                if name in h and _VERSION.search(h[name])]
    return []


def _cookie_findings(item: str, answer: Answer, cfg: HygieneConfig) -> list[str]:
    out = []
    for raw in answer.headers.get_list("set-cookie"):
        name, attributes, samesite = cookie_flags(raw)
        if not _session_cookie(name, cfg):
            continue
        if item == "cookie_httponly" and "httponly" not in attributes:
            out.append(f"cookie {name} set without HttpOnly")
        elif item == "cookie_secure" and answer.https and "secure" not in attributes:
            out.append(f"cookie {name} set without Secure over HTTPS")
        elif item == "cookie_samesite":
            if samesite is None:
                out.append(f"cookie {name} set without SameSite")
            elif samesite.lower() == "none" and "secure" not in attributes:
                out.append(f"cookie {name} has SameSite=None without Secure")
    return out


def _expired(expires: str) -> bool:
    """An Expires date in the past, or one that does not parse (RFC 9111: invalid means already expired)."""
    try:
        when = parsedate_to_datetime(expires)
    except (TypeError, ValueError, IndexError):
        return True
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when <= datetime.now(UTC)


def cache_findings(answer: Answer) -> list[str]:
    """A per-user answer (its request carried a cookie or Authorization, or it sets a cookie) that a shared cache
    may store and serve to the next user."""
    h = answer.headers
    sets_cookie = bool(h.get_list("set-cookie"))
    if not (answer.credentialed or sets_cookie):
        return []
    cc = ", ".join(h.get_list("cache-control"))
    directives = {d.strip().split("=", 1)[0].lower() for d in cc.split(",") if d.strip()}
    if directives & {"private", "no-store"}:
        return []
    why = "its request carried a cookie or Authorization" if answer.credentialed else "it sets a cookie"
    if directives & {"public", "s-maxage"}:
        return [f"publicly cacheable (Cache-Control: {cc}) though {why}"]
    expires = h.get("expires")
    vary = h.get("vary", "").lower()
    if (expires and not directives & {"no-cache", "max-age"} and not _expired(expires)
            and not any(v in vary for v in ("cookie", "authorization", "*"))):
        return [f"cacheable by shared caches (Expires: {expires}, no Vary: Cookie/Authorization) though {why}"]
    return []


def requests_of(profile: Profile) -> list[tuple[str, str, object, dict[str, str]]]:
    """(method, path, JSON body, headers) of every answer looked at: pages, health, routes, hygiene.paths."""
    out: list[tuple[str, str, object, dict[str, str]]] = []
    for page in profile.pages:
        out.append(("GET", page.path, None, {}))
    if profile.health is not None:
        out.append((profile.health.method, profile.health.path, None, {}))
    for route in profile.routes:
        out.append((route.method, route.path, route.json_body, dict(route.headers)))
    out += [("GET", path, None, {}) for path in profile.hygiene.paths]
    seen: set[tuple[str, str]] = set()
    unique = []
    for method, path, body, headers in out:
        if (method, path) not in seen:
            seen.add((method, path))
            unique.append((method, path, body, headers))
    return unique


@dataclass
class FetchCache:
    """A run's answers to the hygiene requests, by base URL, with when they were fetched."""

    answers: dict[str, tuple[float, list[Exchange]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


CACHE = run_state.Slot("hygiene answers", FetchCache)


def fetch(profile: Profile, base_url: str, fresh: bool = False) -> list[Exchange]:
    """The answers looked at, from this run's cache unless `fresh` (or older than a minute)."""
    import json

    cache = run_state.current().get(CACHE)
    with cache.lock:
        hit = cache.answers.get(base_url)
        if hit is not None and not fresh and time.monotonic() - hit[0] < _CACHE_S:
            return hit[1]
        exchanges = []
        with make_client(profile, follow_redirects=False) as client:
            for method, path, body, headers in requests_of(profile):
                payload = None
                hdrs = {str(k): str(v) for k, v in expand(headers, profile).items()}
                if body is not None and method not in ("GET", "HEAD"):
                    payload = json.dumps(expand(body, profile)).encode()
                    hdrs.setdefault("Content-Type", "application/json")
                url = base_url.rstrip("/") + str(expand(path, profile))
                exchanges.append(send_raw(client, method, url, hdrs, payload, follow_redirects=False))
        cache.answers[base_url] = (time.monotonic(), exchanges)
        return exchanges


def _label(ex: Exchange, base_url: str) -> str:
    return f"{ex.method} {ex.url[len(base_url.rstrip('/')):] or '/'}"


def _credentialed(ex: Exchange) -> bool:
    sent = ex.response.request.headers if ex.response is not None else httpx.Headers(ex.headers)
    return "cookie" in sent or "authorization" in sent


def seen_answers(items: list[dict[str, Any]]) -> list[Answer]:
    """The seen-answers ledger's lines as answers, each labelled with its request and where it came from."""
    out = []
    for item in items:
        pairs = [("set-cookie", c) for c in item.get("set_cookie") or []]
        pairs += [(h, str(item[h])) for h in ("cache-control", "expires", "vary", "pragma") if h in item]
        label = f"{item.get('method', '?')} {item.get('path', '?')} ({item.get('status')}, seen by {item.get('by')})"
        out.append(Answer(label, httpx.Headers(pairs), bool(item.get("https")), bool(item.get("credentialed"))))
    return out


def _evaluate(item: str, exchanges: list[Exchange], profile: Profile, base_url: str) -> tuple[list[str], list[str]]:
    """(findings, each naming the answers it was seen on; transport failures) of one item over the answers: its
    own fetches, and for the cookie and cache items every answer the run saw so far."""
    https = base_url.lower().startswith("https://")
    where: dict[str, list[str]] = {}
    errors: list[str] = []
    for ex in exchanges:
        label = _label(ex, base_url)
        if ex.response is None:
            errors.append(f"{label}: no answer ({ex.error})")
            continue
        answer = Answer(label, ex.response.headers, https, _credentialed(ex))
        for finding in item_findings(item, answer, profile.hygiene):
            where.setdefault(finding, []).append(label)
    if item in SEEN_ITEMS:
        for answer in seen_answers(seen.read()):
            for finding in item_findings(item, answer, profile.hygiene):
                labels = where.setdefault(finding, [])
                if len(labels) < 5 and answer.label not in labels:
                    labels.append(answer.label)
    return [f"{finding} on {', '.join(labels)}" for finding, labels in where.items()], errors


def check_item(profile: Profile, base_url: str, item: str) -> Outcome:
    """One hygiene item over every answer looked at."""
    exchanges = fetch(profile, base_url)
    if not exchanges:  # a near-empty profile: say so rather than "ok on 0 answers"
        return Outcome(ok=True, message="nothing to look at: the profile declares no page, health, route or "
                                        "hygiene.paths")
    findings, errors = _evaluate(item, exchanges, profile, base_url)
    if findings or errors:  # never judge on a cached answer alone: look again
        exchanges = fetch(profile, base_url, fresh=True)
        findings, errors = _evaluate(item, exchanges, profile, base_url)
    if errors:
        return Outcome(ok=False, message="; ".join(errors), kind="error", exchanges=exchanges,
                       curl=next((ex.curl() for ex in exchanges if ex.response is None), None))
    severity = getattr(profile.hygiene, item)
    labels = [_label(ex, base_url) for ex in exchanges]
    culprit = [ex for ex, label in zip(exchanges, labels, strict=True) if any(label in f for f in findings)]
    outcome = judge([(severity, f) for f in findings], culprit or exchanges,
                    ok_message=f"ok on {len(exchanges)} answers ({', '.join(labels)})")
    if not outcome.ok:  # one finding per answer, so `new_only` can tell a new one from existing debt (debt.py)
        outcome.details["findings"] = finding_keys(item, exchanges, profile, base_url)
    return outcome


def finding_keys(item: str, exchanges: list[Exchange], profile: Profile, base_url: str) -> list[str]:
    """Each finding of one item on each answer, as stable text (`<finding> on <METHOD path>`)."""
    https = base_url.lower().startswith("https://")
    keys: list[str] = []
    for ex in exchanges:
        if ex.response is not None:
            label = _label(ex, base_url)
            keys += [f"{f} on {label}" for f in item_findings(item, Answer(label, ex.response.headers, https),
                                                              profile.hygiene)]
    return sorted(set(keys))


def seen_items(profile: Profile) -> list[str]:
    """The hygiene items also judged on what a later stage saw (the e2e stage's journeys)."""
    return [item for item in planned_items(profile) if item in SEEN_ITEMS]


def journeys_check_id(item: str) -> str:
    """The e2e stage's check of one item over the journeys' answers, e.g. hygiene:cookie-httponly:journeys."""
    return f"hygiene:{ITEMS[item]}:journeys"


def judge_seen(profile: Profile, base_url: str, item: str, by_prefix: str) -> Outcome:
    """One hygiene item over the answers of the seen-answers ledger that `by_prefix` (e.g. "journey ") got."""
    answers = [a for a in seen_answers(seen.read()) if f"seen by {by_prefix}" in a.label]
    where: dict[str, list[str]] = {}
    for answer in answers:
        for finding in item_findings(item, answer, profile.hygiene):
            labels = where.setdefault(finding, [])
            if len(labels) < 5 and answer.label not in labels:
                labels.append(answer.label)
    findings = [f"{finding} on {', '.join(labels)}" for finding, labels in where.items()]
    severity = getattr(profile.hygiene, item)
    return judge([(severity, f) for f in findings], [],
                 ok_message=f"ok on the {len(answers)} cookie-setting or credentialed answer(s) seen")


def planned_items(profile: Profile) -> list[str]:
    """The hygiene items the profile does not switch off."""
    if not profile.hygiene.enabled:
        return []
    return [item for item in ITEMS if getattr(profile.hygiene, item) != "off"]

