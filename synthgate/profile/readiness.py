"""Profile sections for release readiness and deploy hygiene: release:, tls:, hygiene:, links:."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from synthgate import run_context
from synthgate.profile.common import Duration, Regex, Strict

# What a readiness item does when it finds a problem: fail the gate, report a warning, or not look.
Severity = Literal["fail", "warn", "off"]

# The environment variable the embedded demo target sets to hand its CA to the gate's clients.
CA_BUNDLE_ENV = "SYNTHGATE_CA_BUNDLE"


class ReleaseConfig(Strict):
    """Wait for the new release to be live before any stage judges it."""

    expect_env: str | None = None  # e.g. GITHUB_SHA: the expected release, when --expect-release is not given
    source: Literal["health", "header", "page"] = "health"
    path: str | None = None  # default: the health path (source health), else "/"
    field: str = "version"  # source health: dotted JSON path of the release marker
    header: str | None = None  # source header: the response header that names the release
    pattern: Regex | None = None  # source page: a regex whose first group is the marker (default: value appears)
    consecutive: int = Field(default=3, ge=1, le=100)  # answers in a row that must show it (edges, replicas)
    wait_s: Duration = Field(default=300.0, gt=0, le=3600)
    interval_s: Duration = Field(default=2.0, gt=0, le=300)

    @field_validator("path")
    @classmethod
    def _path_is_relative(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("expected a path starting with '/'")
        return value

    @model_validator(mode="after")
    def _header_named(self) -> ReleaseConfig:
        if self.source == "header" and not self.header:
            raise ValueError("source 'header' needs 'header': the response header that names the release")
        return self


class TlsConfig(Strict):
    """TLS of an https base URL: certificate lifetime, hostname, chain, HTTP->HTTPS redirect, HSTS."""

    enabled: bool = True
    ca_bundle: str | None = None  # a PEM file of extra trusted CAs (a private CA, the demo's self-signed one)
    ca_bundle_env: str | None = None  # or the environment variable holding that file's path
    min_days: int = Field(default=14, ge=0)  # fail when the certificate expires sooner
    warn_days: int = Field(default=30, ge=0)  # warn when it expires sooner
    hostname: Severity = "fail"
    chain: Severity = "fail"
    http_redirect: Severity = "fail"  # plain HTTP, when it answers at all, must redirect to https://
    http_url: str | None = None  # where plain HTTP is served (default: http://<host>/ on port 80)
    hsts: Severity = "fail"

    @field_validator("ca_bundle")
    @classmethod
    def _bundle_exists(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).expanduser().is_file():
            raise ValueError(f"expected a PEM file of CA certificates; {value!r} is not a file")
        return value

    def ca_bundle_path(self) -> str | None:
        """The extra CA file to trust: ca_bundle, else ca_bundle_env's value, else $SYNTHGATE_CA_BUNDLE, else the
        embedded demo's CA (named in the run context)."""
        if self.ca_bundle:
            return str(Path(self.ca_bundle).expanduser())
        for name in (self.ca_bundle_env, CA_BUNDLE_ENV):
            value = os.environ.get(name) if name else None
            if value:
                return value
        return run_context.current().ca_bundle


class HygieneConfig(Strict):
    """Security headers and cookie flags on pages and API answers; each item fails, warns or is off."""

    enabled: bool = True
    paths: list[str] = Field(default_factory=list)  # GET paths looked at besides the pages, health and routes
    session_cookies: list[str] = Field(default_factory=list)  # cookie names held to the flags (default: every one)
    nosniff: Severity = "fail"  # X-Content-Type-Options: nosniff on every answer
    framing: Severity = "warn"  # CSP frame-ancestors or X-Frame-Options on HTML
    csp: Severity = "warn"  # Content-Security-Policy on HTML
    referrer_policy: Severity = "warn"  # Referrer-Policy on HTML
    cookie_secure: Severity = "fail"  # Secure on every session cookie (HTTPS only)
    cookie_httponly: Severity = "fail"
    cookie_samesite: Severity = "warn"
    server_banner: Severity = "warn"  # no version numbers in Server / X-Powered-By
    # fail only on findings the previous passing run did not have; the others are existing debt (synthgate/debt.py)
    new_only: bool = False
    # an answer to a request with a cookie or Authorization, or that sets a cookie, never publicly cacheable
    cache_private: Severity = "fail"


class LinksConfig(Strict):
    """Same-origin links, scripts, stylesheets and images reachable from the declared pages answer below 400.

    Links and redirects to any other origin are listed as external and never fetched, except to `follow_hosts`.
    """

    enabled: bool = True
    max_depth: int = Field(default=1, ge=0, le=5)  # 0: only what the declared pages reference
    max_urls: int = Field(default=100, ge=1, le=5000)
    max_time_s: Duration = Field(default=20.0, gt=0, le=600)
    ignore: list[Regex] = Field(default_factory=list)  # URL paths (regex, searched) never fetched
    # fail only on broken links the previous passing run did not have; the others are existing debt
    new_only: bool = False
    # hosts ("cdn.example.com" or "host:port") whose links are checked and that redirects may go to; every other
    # origin is listed as external and never fetched (by links or any other check)
    follow_hosts: list[str] = Field(default_factory=list)
