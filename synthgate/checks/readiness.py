"""The readiness checks of the smoke stage: TLS, deploy hygiene, broken links (planned from the profile)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from synthgate.checks import hygiene, links, tls
from synthgate.checks.outcome import Outcome
from synthgate.profile.model import Profile

# smoke check kind -> function(profile, base_url, spec) -> Outcome
_TLS = {"certificate": tls.certificate, "http-redirect": tls.http_redirect, "hsts": tls.hsts}


def _tls(profile: Profile, base_url: str, name: str) -> Outcome:
    if not tls.is_https(base_url):  # e.g. a probe of an http URL: nothing to judge
        return Outcome(ok=True, message=f"TLS checks apply to https base URLs only ({base_url})")
    return _TLS[name](profile, base_url)


def _links(profile: Profile, base_url: str, _spec: Any) -> Outcome:
    return links.crawl(profile, base_url)


KINDS: dict[str, Callable[[Profile, str, Any], Outcome]] = {
    "tls": _tls,
    "hygiene": hygiene.check_item,
    "links": _links,
}


def plan(profile: Profile) -> list[tuple[str, str, Any]]:
    """(check id, kind, spec) of every readiness check the profile keeps on (TLS ones apply to https only)."""
    out: list[tuple[str, str, Any]] = []
    cfg = profile.tls
    if cfg.enabled:
        out.append(("tls:certificate", "tls", "certificate"))
        if cfg.http_redirect != "off":
            out.append(("tls:http-redirect", "tls", "http-redirect"))
        if cfg.hsts != "off":
            out.append(("tls:hsts", "tls", "hsts"))
    out += [(f"hygiene:{hygiene.ITEMS[item]}", "hygiene", item) for item in hygiene.planned_items(profile)]
    if profile.links.enabled and profile.pages:
        out.append(("links", "links", None))
    return out
