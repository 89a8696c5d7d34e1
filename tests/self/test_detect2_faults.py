"""What a user meets that the gate used to let through (issue 23): each of the seven demo faults fails the check
meant for it, and the healthy demo passes those same checks. The checks run in this process, as the smoke stage
and the e2e stage run them (one demo server per fault, one browser for the module); the acceptance check
`detect2` runs the same faults through whole `synthgate run` gates."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from synthgate import auth
from synthgate.checks import cold, forged, hygiene, languages, registry, seen, smoke
from synthgate.demo.server import EmbeddedTarget
from synthgate.e2e.runner import BrowserSession
from synthgate.http import make_client, send_raw
from synthgate.profile import load_profile
from synthgate.profile.e2e import LandingJourney
from synthgate.profile.model import Profile

# fault -> the check meant to catch it, and a phrase its message must carry
SMOKE_FAULTS = {
    "forged-token-accepted": ("manuscripts-with-login:forged-credential", "forged credential in Authorization"),
    "zh-page-500": ("page:landing:lang-zh", "status 500"),
    "post-cookie-no-flags": ("hygiene:cookie-httponly",
                             "without HttpOnly on POST /api/generate (200, seen by check one-free-generation"),
    "session-public-cache": ("hygiene:cache-private", "publicly cacheable (Cache-Control: public, max-age=600)"),
}
E2E_FAULTS = {
    "dashboard-late-error": ("intake.lands-on-dashboard", "uncaught error: Cannot read properties of null"),
    "untranslated-keys": ("toggle.switches-to-zh", "'landing.tagline' (a translation key)"),
    "stored-xss": ("intake.no-xss", "the XSS canary typed into #target_name ran as script"),
}


def _smoke_checks(profile: Profile, target: EmbeddedTarget, reports: Path) -> dict[str, tuple[bool, str]]:
    """Every check the new detections add to the smoke stage, run as the stage runs them: id -> (ok, message)."""
    out: dict[str, tuple[bool, str]] = {}
    cold.begin(reports, target.url)
    try:
        assert auth.gate_login(profile, target.url, reports, lambda _: None) is None
        for check in [c for c in registry.checks(profile, probed=True) if c.kind == "check"]:
            with seen.source(f"check {check.id}"):
                smoke.execute(check, profile, target.url)  # what hygiene then judges, too
        for derived in forged.plan(profile):
            result = forged.execute(derived, profile, target.url)
            out[derived.id] = (result.final.ok, result.final.message)
        for variant in languages.plan(profile):
            result = languages.execute(variant, profile, target.url)
            out[variant.id] = (result.final.ok, result.final.message)
        for item in ("cookie_httponly", "cookie_samesite", "cache_private"):
            outcome = hygiene.check_item(profile, target.url, item)
            out[f"hygiene:{hygiene.ITEMS[item]}"] = (outcome.ok, outcome.message)
    finally:
        auth.end()
        cold.close()
    return out


@pytest.fixture(scope="module")
def demo() -> Profile:
    return load_profile("demo")[0]


def test_healthy_demo_passes_the_new_smoke_checks(demo: Profile, tmp_path: Path) -> None:
    with EmbeddedTarget() as target:
        results = _smoke_checks(demo, target, tmp_path)
    assert {cid for cid, _ in SMOKE_FAULTS.values()} <= set(results)
    assert "manuscripts-with-login:forged-credential" in results and "page:intake:lang-zh" in results
    # the demo declares manuscripts-require-auth (no credential, 401): no twin sends the same request again
    assert "manuscripts-with-login:no-credential" not in results
    assert not any(c.startswith("login") for c in results if c.endswith("-credential"))  # never on logins
    assert {cid: msg for cid, (ok, msg) in results.items() if not ok} == {}


@pytest.mark.parametrize("fault", sorted(SMOKE_FAULTS))
def test_smoke_fault_fails_the_check_meant_for_it(demo: Profile, tmp_path: Path, fault: str) -> None:
    check_id, phrase = SMOKE_FAULTS[fault]
    with EmbeddedTarget(fault=fault) as target:
        results = _smoke_checks(demo, target, tmp_path)
    ok, message = results[check_id]
    assert not ok and phrase in message, message


def test_an_open_route_fails_once_through_its_no_credential_check(demo: Profile, tmp_path: Path) -> None:
    # auth-open: anyone reads /manuscripts; the forged check names the declared check instead of failing again
    with EmbeddedTarget(fault="auth-open") as target:
        cold.begin(tmp_path, target.url)
        try:
            assert auth.gate_login(demo, target.url, tmp_path, lambda _: None) is None
            derived = next(c for c in forged.plan(demo) if c.id == "manuscripts-with-login:forged-credential")
            result = forged.execute(derived, demo, target.url)
        finally:
            auth.end()
            cold.close()
    assert forged.same_defect_as(result) == "manuscripts-require-auth", result.final.message


def test_a_route_without_a_declared_refusal_gets_its_no_credential_twin() -> None:
    profile = Profile.model_validate({
        "name": "twins", "base_url": "http://127.0.0.1:9", "secrets": {"TOKEN": {"env": "SG_TEST_TOKEN"}},
        "checks": [{"id": "me", "request": {"path": "/me", "headers": {"Authorization": "Bearer ${secrets.TOKEN}"}},
                    "expect": {"status": 200}}]})
    assert [(c.id, c.mode, c.covered_by) for c in forged.plan(profile)] == [
        ("me:forged-credential", "forged", "me:no-credential"), ("me:no-credential", "none", None)]


def test_forged_tokens_keep_their_shape() -> None:
    token = "sgd_AbC123xyz-_Q"
    forged_token = forged.forge_token(token)
    assert forged_token != token and forged_token.startswith("sgd_") and len(forged_token) == len(token)
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    head, payload, signature = forged.forge_token(jwt).split(".")
    assert (head, payload) == ("eyJhbGciOiJIUzI1NiJ9", "eyJzdWIiOiIxIn0") and signature != "c2lnbmF0dXJl"
    assert forged.forge_header("Cookie", "a=1x; b=zz").startswith("a=") and "b=" in forged.forge_header("Cookie", "b=z")


def test_cache_rule_judges_per_user_answers_only() -> None:
    def findings(headers: dict[str, str], credentialed: bool) -> list[str]:
        return hygiene.cache_findings(hygiene.Answer("GET /x", hygiene.httpx.Headers(headers), False, credentialed))

    assert findings({"cache-control": "public, max-age=600"}, credentialed=True)
    assert findings({"cache-control": "s-maxage=60"}, credentialed=True)
    assert findings({"cache-control": "public, max-age=600", "set-cookie": "s=1; HttpOnly"}, credentialed=False)
    assert findings({"expires": "Wed, 01 Jan 2120 00:00:00 GMT"}, credentialed=True)
    assert not findings({"expires": "Wed, 01 Jan 2120 00:00:00 GMT", "vary": "Cookie"}, credentialed=True)
    assert not findings({"cache-control": "public, max-age=600"}, credentialed=False)  # a shared page: fine
    assert not findings({"cache-control": "private, max-age=600"}, credentialed=True)
    assert not findings({"cache-control": "no-store"}, credentialed=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with BrowserSession() as session:
        yield session


def _journeys(profile: Profile, *ids: str) -> Profile:
    journeys = [j.model_copy(update={"a11y": False}) for j in profile.journeys if j.id in ids]
    return profile.model_copy(update={"journeys": journeys, "e2e": profile.e2e.model_copy(update={"retries": 0})})


@pytest.mark.parametrize("fault", [None, *sorted(E2E_FAULTS)])
def test_browser_fault_fails_the_step_meant_for_it(demo: Profile, browser: Any, tmp_path: Path,
                                                   fault: str | None) -> None:
    profile = _journeys(demo, "intake", "toggle")
    with EmbeddedTarget(fault=fault) as target:
        run = browser.run(profile, target.url, tmp_path)
    failed = {cid: r.message for cid, r in run.results.items() if r.status == "failed"}
    if fault is None:
        assert failed == {}
        assert run.result("intake.no-xss").message.startswith("the canary typed into #target_name never ran")
        return
    check_id, phrase = E2E_FAULTS[fault]
    assert check_id in failed and phrase in failed[check_id], failed
    assert {c.split(".")[0] for c in failed} == {check_id.split(".")[0]}  # pinned to the journey that meets it


class _CookiePage(BaseHTTPRequestHandler):
    """A page that sets a session cookie without HttpOnly or SameSite, and caches it publicly."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:  # noqa: N802 - the stdlib's name
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = b"<!doctype html><html lang=en><title>ok</title><body><main><h1>welcome</h1></main>"
        if self.command == "HEAD" or self.path != "/":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "sid=abc123; Path=/")
        self.send_header("Cache-Control", "public, max-age=300")
        self.end_headers()
        self.wfile.write(body)


def test_journeys_answers_are_judged_by_hygiene(demo: Profile, browser: Any, tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CookiePage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    profile = demo.model_copy(update={"journeys": [LandingJourney(id="home", kind="landing", path="/",
                                                                  vitals=None, a11y=False)]})
    cold.begin(tmp_path, url)
    try:
        with make_client(profile) as client:  # the gate's first request opens the run's ledgers (a HEAD: no cookie)
            assert send_raw(client, "HEAD", url + "/nothing-here").status is not None
        assert seen.read() == []
        browser.run(profile, url, tmp_path)
        httponly = hygiene.judge_seen(profile, url, "cookie_httponly", "journey ")
        cache = hygiene.judge_seen(profile, url, "cache_private", "journey ")
    finally:
        cold.close()
        server.shutdown()
    assert not httponly.ok, httponly.message
    assert "cookie sid set without HttpOnly on GET / (200, seen by journey home)" in httponly.message
    assert not cache.ok and "publicly cacheable" in cache.message
