"""The readiness checks of the smoke stage: TLS, deploy hygiene, broken links (planned from the profile).

The gate's smoke stage runs them; probes do not (synthgate.checks.registry says so per kind)."""

from __future__ import annotations

from typing import Any

from synthgate.checks import hygiene, links, tls
from synthgate.checks.outcome import Outcome
from synthgate.checks.smoke import SmokeCheck
from synthgate.profile.model import Profile

_TLS = {"certificate": tls.certificate, "http-redirect": tls.http_redirect, "hsts": tls.hsts}


def tls_attempt(profile: Profile, base_url: str, name: str) -> Outcome:
    """One TLS check by name (certificate, http-redirect, hsts); an http base URL has nothing to judge."""
    if not tls.is_https(base_url):  # e.g. a probe of an http URL: nothing to judge
        return Outcome(ok=True, message=f"TLS checks apply to https base URLs only ({base_url})")
    return _TLS[name](profile, base_url)


def links_attempt(profile: Profile, base_url: str, _spec: Any) -> Outcome:
    """The broken-links crawl of the profile's pages."""
    return links.crawl(profile, base_url)


def tls_checks(profile: Profile) -> list[SmokeCheck]:
    """The TLS checks the profile keeps on (they apply to https base URLs only: see the registry's `applies`)."""
    cfg, retries = profile.tls, profile.defaults.retries
    if not cfg.enabled:
        return []
    names = ["certificate"]
    names += ["http-redirect"] if cfg.http_redirect != "off" else []
    names += ["hsts"] if cfg.hsts != "off" else []
    return [SmokeCheck(f"tls:{name}", "tls", name, retries, tls_attempt) for name in names]


def hygiene_checks(profile: Profile) -> list[SmokeCheck]:
    """One check per hygiene item the profile keeps on."""
    return [SmokeCheck(f"hygiene:{hygiene.ITEMS[item]}", "hygiene", item, profile.defaults.retries,
                       hygiene.check_item) for item in hygiene.planned_items(profile)]


def links_checks(profile: Profile) -> list[SmokeCheck]:
    """The broken-links check, when it is on and the profile has pages to start from."""
    if not (profile.links.enabled and profile.pages):
        return []
    return [SmokeCheck("links", "links", None, profile.defaults.retries, links_attempt)]
