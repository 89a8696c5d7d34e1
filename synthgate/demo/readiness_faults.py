"""The demo target's release-readiness and hygiene behaviour: HSTS and Secure cookies on HTTPS, and the faults
`release-not-live`, `missing-nosniff`, `cookie-not-httponly`, `broken-link` (`cert-expiring`: demo/tls, demo/certs)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from synthgate.demo.releases import HEALTHY_VERSION, Release, StateError, read_state

# `release-not-live`: for this long after its deploy, the health endpoint still names the previous release.
NOT_LIVE_FOR_S = 30.0
HSTS = "max-age=31536000; includeSubDomains"
# `broken-link`: the landing page links a page that was never deployed.
BROKEN_LINK_PATH = "/pricing"
_BROKEN_LINK = f'<p><a id="pricing" href="{BROKEN_LINK_PATH}">Pricing</a></p>\n</main>'


def shown_version(state_path: Path, release: Release) -> str:
    """The version the health endpoint reports: the previous one for a while after a `release-not-live` deploy."""
    if release["fault"] != "release-not-live":
        return release["version"]
    try:
        state = read_state(state_path)
    except StateError:
        return release["version"]
    events = [e for e in state.get("history", []) if e.get("action") in ("deploy", "init")
              and e.get("version") == release["version"]]
    previous = state.get("previous") or {}
    try:
        deployed = datetime.fromisoformat(str(events[-1]["at"]))
    except (IndexError, KeyError, ValueError):
        return release["version"]
    if (datetime.now(UTC) - deployed).total_seconds() < NOT_LIVE_FOR_S:
        return str(previous.get("version") or HEALTHY_VERSION)
    return release["version"]


def response_headers(fault: str | None, scheme: str, headers: dict[str, str]) -> dict[str, str]:
    """The security headers of one answer: HSTS on HTTPS; no nosniff under `missing-nosniff`."""
    out = dict(headers)
    if scheme == "https":
        out["strict-transport-security"] = HSTS
    if fault == "missing-nosniff":
        out.pop("x-content-type-options", None)
    return out


def cookies(fault: str | None, scheme: str, set_cookies: list[str]) -> list[str]:
    """Set-Cookie values as sent: Secure on HTTPS; no HttpOnly under `cookie-not-httponly`."""
    out = []
    for cookie in set_cookies:
        if fault == "cookie-not-httponly":
            cookie = "; ".join(p for p in cookie.split("; ") if p.lower() != "httponly")
        if scheme == "https" and "secure" not in cookie.lower().split("; "):
            cookie += "; Secure"
        out.append(cookie)
    return out


def page_body(name: str, fault: str | None, body: bytes) -> bytes:
    """A page as served: the landing page gains a link to a page that 404s under `broken-link`."""
    if fault == "broken-link" and name == "landing":
        return body.replace(b"</main>", _BROKEN_LINK.encode(), 1)
    return body
