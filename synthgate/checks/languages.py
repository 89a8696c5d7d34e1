"""Pages in each declared language: a page that works in the runner's language can fail in another.

The declared languages are the toggle journeys' `languages`. Every declared page is requested once per language
with `Accept-Language` set to it (check `page:<id>:lang-<lang>`) and held to the page's own expectations: its
status, its marker text, and, as for every answer, no stack trace or internal path in the body.
"""

from __future__ import annotations

from dataclasses import dataclass

from synthgate.checks.expect import check_response
from synthgate.checks.outcome import Attempted, Outcome, run_with_retries
from synthgate.http import make_client, send
from synthgate.profile.model import Page, Profile, Request


@dataclass(frozen=True)
class LanguagePage:
    """One page requested in one language."""

    id: str
    page: Page
    lang: str


def declared_languages(profile: Profile) -> list[str]:
    """Every language a toggle journey declares, first seen first."""
    out: list[str] = []
    for journey in profile.journeys:
        for lang in getattr(journey, "languages", None) or []:
            if journey.kind == "toggle" and lang not in out:
                out.append(lang)
    return out


def plan(profile: Profile) -> list[LanguagePage]:
    """One check per declared page and declared language."""
    return [LanguagePage(f"page:{page.id}:lang-{lang}", page, lang)
            for page in profile.pages for lang in declared_languages(profile)]


def accept_language(lang: str) -> str:
    """An Accept-Language header that prefers `lang` (zh-CN also offers zh)."""
    base = lang.replace("_", "-").split("-")[0]
    return lang if base == lang else f"{lang},{base};q=0.9"


def _attempt(check: LanguagePage, profile: Profile, base_url: str) -> Outcome:
    request = Request(path=check.page.path, headers={"Accept-Language": accept_language(check.lang)})
    with make_client(profile) as client:
        ex = send(client, base_url, profile, request)
    failures = check_response(ex, check.page.expect, None)  # latency is the page check's; this one is language
    if failures and ex.response is not None:
        failures[0] = f"GET {check.page.path} with Accept-Language: {accept_language(check.lang)}: {failures[0]}"
    out = Outcome.from_failures(failures, [ex], "assertion" if ex.response is not None else "error")
    if out.ok:
        out.message = f"answers {ex.status} with its marker text in {check.lang}"
    return out


def execute(check: LanguagePage, profile: Profile, base_url: str) -> Attempted:
    """Request the page in its language (transport failures retried, an answer never)."""
    return run_with_retries(lambda: _attempt(check, profile, base_url), profile.defaults.retries,
                            profile.defaults.backoff_s)
