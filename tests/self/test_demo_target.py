"""The embedded demo target over real loopback HTTP: healthy contracts, every fault, and Schemathesis."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from synthgate.demo import releases
from synthgate.demo.faults import FAULTS
from synthgate.demo.releases import default_state_path
from synthgate.demo.server import EmbeddedTarget

VALID_INTAKE = {
    "user_email": "ada@example.com",
    "user_name": "Ada",
    "target_name": "Grace Hopper",
    "target_company": "Navy Labs",
    "target_reason": "Compilers",
    "user_background": "Engines",
}
VALID_GENERATION = {
    "companyName": "Acme",
    "targetJobTitle": "CTO",
    "problemTheyFace": "Deploys break at night",
    "yourProduct": "A deploy gate for CI",
    "keyBenefit": "Safe releases every day",
    "callToAction": "Book a call this week",
    "tone": "Direct",
}
DEMO_LOGIN = {"email": "demo@synthgate.dev", "password": "demo-password"}


@pytest.fixture(scope="module")
def target() -> Iterator[EmbeddedTarget]:
    with EmbeddedTarget() as running:
        yield running


@pytest.fixture()
def client(target: EmbeddedTarget) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=target.url, timeout=10) as http:
        yield http


@contextlib.contextmanager
def deployed(target: EmbeddedTarget, fault: str) -> Iterator[None]:
    """Deploy the release carrying `fault` on the running target, then roll back."""
    releases.deploy(target.state_path, fault)
    try:
        yield
    finally:
        releases.rollback(target.state_path)


def _token(client: httpx.Client) -> str:
    return str(client.post("/auth/login", json=DEMO_LOGIN).json()["token"])


# ---- releases --------------------------------------------------------------------------------------


def test_release_state_lifecycle(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    state = releases.init_state(state_file, None)
    assert state["current"] == {"version": releases.HEALTHY_VERSION, "fault": None}
    assert state["previous"] == state["current"]
    releases.deploy(state_file, "health-500")
    state = releases.read_state(state_file)
    assert state["current"] == {"version": "1.4.1-health-500", "fault": "health-500"}
    assert state["previous"]["fault"] is None
    assert releases.rollback(state_file)["current"]["fault"] is None
    with pytest.raises(releases.StateError, match="nothing to roll back"):
        releases.rollback(state_file)  # one step back only: never back onto the broken release
    assert [event["action"] for event in releases.read_state(state_file)["history"]] == ["init", "deploy", "rollback"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]  # no temp files left
    with pytest.raises(ValueError, match="unknown fault"):
        releases.deploy(state_file, "no-such-fault")
    with pytest.raises(releases.StateError, match="no demo state"):
        releases.read_state(tmp_path / "missing.json")


def test_init_with_fault_keeps_healthy_previous(tmp_path: Path) -> None:
    state = releases.init_state(tmp_path / "s.json", "slow")
    assert state["current"]["fault"] == "slow" and state["previous"]["fault"] is None


def test_default_state_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SYNTHGATE_DEMO_STATE", raising=False)
    assert default_state_path(8000).name == "demo-8000.json"
    monkeypatch.setenv("SYNTHGATE_DEMO_STATE", str(tmp_path / "x.json"))
    assert default_state_path(8000) == tmp_path / "x.json"


# ---- healthy contracts -----------------------------------------------------------------------------


def test_health(client: httpx.Client) -> None:
    response = client.get("/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["environment"] == "production"
    assert body["version"] == releases.HEALTHY_VERSION
    age = datetime.now(UTC) - datetime.fromisoformat(body["timestamp"])
    assert abs(age.total_seconds()) < 60


def test_pages(client: httpx.Client) -> None:
    landing = client.get("/")
    assert landing.status_code == 200 and "synthgate demo" in landing.text
    assert 'id="lang-toggle"' in landing.text and "data-zh=" in landing.text
    intake = client.get("/intake")
    assert intake.status_code == 200 and "novalidate" in intake.text
    for name in ("user_email", "user_name", "target_name", "target_company", "target_reason", "user_background"):
        assert f'id="{name}" name="{name}"' in intake.text
    assert 'id="submit"' in intake.text and 'id="form-error"' in intake.text
    assert client.get("/dashboard", params={"campaign": "test"}).text.count('id="campaign"') == 1
    moved = client.get("/intake.html")
    assert moved.status_code in (301, 302) and moved.headers["location"] == "/intake"
    for page in (landing, intake):
        # Only its own, inline assets: no external requests from any page.
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text)
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    for path in ("/api/nope", "/auth/nope", "/v1/nope"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_intake_and_campaign(client: httpx.Client) -> None:
    created = client.post("/api/intake", json=VALID_INTAKE)
    assert created.status_code == 200 and created.json()["success"] is True
    campaign_id = created.json()["campaign_id"]
    assert re.fullmatch(r"camp_[0-9a-f]+", campaign_id)
    found = client.get(f"/api/campaign/{campaign_id}").json()
    assert found["success"] is True
    assert found["campaign"]["id"] == campaign_id and found["campaign"]["target_company"] == "Navy Labs"
    assert client.get("/api/campaign/test").status_code == 200  # the runbook's uptime monitor
    missing = client.get("/api/campaign/camp_missing")
    assert missing.status_code == 404 and missing.json() == {"success": False, "error": "not_found"}


@pytest.mark.parametrize(
    "body",
    [
        {k: v for k, v in VALID_INTAKE.items() if k != "target_name"},
        {**VALID_INTAKE, "user_name": ""},
        {**VALID_INTAKE, "user_name": 5},
        {**VALID_INTAKE, "user_email": "not-an-email"},
        b"{not json",
        b"\xff\xfe\x00garbage",
        b"[]",
        b"",
    ],
    ids=["missing", "empty", "wrong-type", "bad-email", "malformed", "non-utf8", "array", "no-body"],
)
def test_intake_rejects_bad_input(client: httpx.Client, body: dict[str, Any] | bytes) -> None:
    if isinstance(body, bytes):
        response = client.post("/api/intake", content=body, headers={"content-type": "application/json"})
    else:
        response = client.post("/api/intake", json=body)
    assert response.status_code == 400
    assert response.json()["success"] is False and response.json()["error"]


def test_huge_body_is_400(client: httpx.Client) -> None:
    response = client.post("/api/intake", content=b"x" * (2 << 20), headers={"content-type": "application/json"})
    assert response.status_code == 400


def test_generate_quota_per_session(client: httpx.Client) -> None:
    invalid = client.post("/api/generate", json={"companyName": "Test"})
    assert invalid.status_code == 400 and "error" in invalid.json()
    cookie = invalid.headers["set-cookie"]
    assert cookie.startswith("coldcopy_session=") and "HttpOnly" in cookie
    first = client.post("/api/generate", json=VALID_GENERATION)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["success"] is True and body["sequenceId"]
    assert len(body["sequence"]["emails"]) == 3 and "Acme" in body["sequence"]["emails"][0]["subject"]
    second = client.post("/api/generate", json=VALID_GENERATION)
    assert second.status_code == 402 and second.json()["error"] == "rate_limit_exceeded"
    # Validation comes before the quota, even for a spent session.
    assert client.post("/api/generate", json={**VALID_GENERATION, "tone": "Angry"}).status_code == 400
    session = client.get("/api/session").json()
    assert session == {"plan": "free", "generations_used": 1, "max_generations": 1}
    fresh = httpx.post(f"{client.base_url}/api/generate", json=VALID_GENERATION)
    assert fresh.status_code == 200  # a new session gets its own free generation


@pytest.mark.parametrize(
    "change",
    [{"problemTheyFace": "too short"}, {"companyName": "x" * 51}, {"companyName": ""}, {"keyBenefit": 12345678901}],
)
def test_generate_validates_ranges(client: httpx.Client, change: dict[str, Any]) -> None:
    assert client.post("/api/generate", json={**VALID_GENERATION, **change}).status_code == 400


def test_auth(client: httpx.Client) -> None:
    assert client.post("/auth/login", json={**DEMO_LOGIN, "password": "wrong"}).json() == {
        "error": "invalid_credentials"
    }
    assert client.post("/auth/login", json={**DEMO_LOGIN, "password": "wrong"}).status_code == 401
    assert client.post("/auth/login", content=b"{").status_code == 400
    token = _token(client)
    assert client.get("/manuscripts").status_code == 401
    assert client.get("/manuscripts", headers={"authorization": "Bearer nope"}).status_code == 401
    listed = client.get("/manuscripts", headers={"authorization": f"Bearer {token}"})
    assert listed.status_code == 200 and listed.json()["manuscripts"]
    known = client.post("/auth/password-reset-request", json={"email": DEMO_LOGIN["email"]})
    unknown = client.post("/auth/password-reset-request", json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200 and known.json() == unknown.json()
    assert client.post("/auth/password-reset-request", json={"email": "nope"}).status_code == 400


def test_cors_only_own_origin(client: httpx.Client, target: EmbeddedTarget) -> None:
    evil = client.get("/v1/health", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers
    own = client.get("/v1/health", headers={"origin": target.url})
    assert own.headers["access-control-allow-origin"] == target.url
    preflight = client.options("/api/intake", headers={"origin": target.url, "access-control-request-method": "POST"})
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == target.url


def test_methods_and_keepalive(client: httpx.Client) -> None:
    wrong = client.delete("/v1/health")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, HEAD, OPTIONS"
    assert client.get("/api/generate").headers["allow"] == "POST, OPTIONS"
    # A GET with a body on a keep-alive connection: the body is drained, the next request parses.
    for _ in range(3):
        assert client.request("GET", "/v1/health", content=b'{"junk": true}').status_code == 200


def test_healthy_responses_are_fast(client: httpx.Client) -> None:
    for path in ("/v1/health", "/"):
        times = []
        for _ in range(30):
            started = time.perf_counter()
            client.get(path)
            times.append(time.perf_counter() - started)
        # < 5 ms is typical; the bound leaves room for a noisy shared CI machine.
        assert statistics.median(times) < 0.015, (path, statistics.median(times))


# ---- faults ----------------------------------------------------------------------------------------


def _median_s(client: httpx.Client, path: str, n: int = 5) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client.get(path)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _missing_route(c: httpx.Client) -> None:
    assert c.post("/api/generate", json={"companyName": "Test"}).status_code == 404


def _health_500(c: httpx.Client) -> None:
    assert c.get("/v1/health").status_code == 500


def _health_stale(c: httpx.Client) -> None:
    body = c.get("/v1/health").json()
    age = datetime.now(UTC) - datetime.fromisoformat(body["timestamp"])
    assert 7000 < age.total_seconds() < 7400 and body["version"] == "1.4.1-health-stale"


def _auth_open(c: httpx.Client) -> None:
    assert c.get("/manuscripts").status_code == 200


def _rate_limit_off(c: httpx.Client) -> None:
    assert [c.post("/api/generate", json=VALID_GENERATION).status_code for _ in range(2)] == [200, 200]


def _slow(c: httpx.Client) -> None:
    assert _median_s(c, "/v1/health", 1) > 0.55 and _median_s(c, "/", 1) > 0.55


def _error_spike(c: httpx.Client) -> None:
    statuses = [c.get("/v1/health").status_code for _ in range(300)]
    assert 1 <= statuses.count(500) <= 45, statuses.count(500)
    assert all(c.get("/").status_code == 200 for _ in range(20))  # pages are not API responses


def _toggle_broken(c: httpx.Client) -> None:
    assert "setLanguage(next); // @toggle" not in c.get("/").text


def _intake_broken(c: httpx.Client) -> None:
    assert 'location.href = "/dashboard"; // @intake-success' in c.get("/intake").text


def _crash_on_bad_input(c: httpx.Client) -> None:
    crashed = c.post("/api/intake", json={**VALID_INTAKE, "user_name": 5})
    assert crashed.status_code == 500 and "Traceback" not in crashed.text
    assert c.post("/api/generate", json={**VALID_GENERATION, "yourProduct": "y" * 1500}).status_code == 500
    assert c.post("/api/generate", json={"companyName": "Test"}).status_code == 400


def _console_error(c: httpx.Client) -> None:
    assert "console.error(" in c.get("/").text


def _page_404(c: httpx.Client) -> None:
    assert c.get("/intake").status_code == 404 and c.get("/").status_code == 200


def _leak_stacktrace(c: httpx.Client) -> None:
    for response in (c.post("/api/generate", json={"companyName": "Test"}), c.get("/manuscripts")):
        assert "Traceback (most recent call last)" in response.json()["trace"]


def _latency_regression(c: httpx.Client) -> None:
    assert 0.025 <= _median_s(c, "/v1/health") < 0.2
    assert _median_s(c, "/") < 0.025  # pages unaffected


def _slow_endpoint(c: httpx.Client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def timed(_: int) -> float:
        started = time.perf_counter()
        assert c.get("/api/session").status_code == 200
        return time.perf_counter() - started

    with ThreadPoolExecutor(8) as pool:
        times = list(pool.map(timed, range(24)))
    # 30 % of answers are slow: 1 to 20 of 24 but for a 1-in-5000 chance (0.7^24 that none is). A median under
    # 0.5 s failed one run in a hundred (13 slow answers of 24 happen that often)
    slow = [t for t in times if t >= 0.7]
    assert 1 <= len(slow) <= 20 and min(times) < 0.5, times
    assert _median_s(c, "/v1/health") < 0.2  # the other endpoints are not slowed


def _flaky_5xx(c: httpx.Client) -> None:
    statuses = [c.get("/v1/health").status_code for _ in range(400)]
    assert 1 <= statuses.count(500) <= 30, statuses.count(500)


def _json_stack(c: httpx.Client) -> None:
    response = c.post("/api/generate", json={"companyName": "Test"})
    assert response.status_code == 400 and "\n    at onRequestPost (" in response.json()["stack"]
    assert "\n" not in response.text  # JSON escapes the newlines: a raw-text pattern does not see the frames


def _fields_renamed(c: httpx.Client) -> None:
    body = c.get("/api/session").json()
    assert "generationsUsed" in body and "generations_used" not in body


def _toggle_not_saved(c: httpx.Client) -> None:
    page = c.get("/").text
    assert "setLanguage(next); // @toggle" in page and 'localStorage.setItem("language"' not in page


def _release_not_live(c: httpx.Client) -> None:
    assert c.get("/v1/health").json()["version"] == releases.HEALTHY_VERSION  # the old release, for 30 s


def _cert_expiring(c: httpx.Client) -> None:
    import tempfile

    from cryptography import x509

    from synthgate.demo.certs import make_tls_files
    from synthgate.demo.tls import cert_days_for

    # the certificate is made when the target starts over HTTPS (demo serve --tls, run --demo-fault cert-expiring)
    with tempfile.TemporaryDirectory() as tmp:
        files = make_tls_files(Path(tmp), cert_days_for("cert-expiring"))
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    days = (cert.not_valid_after_utc - datetime.now(UTC)).total_seconds() / 86400
    assert 2.9 < days <= 3.0


def _missing_nosniff(c: httpx.Client) -> None:
    assert "x-content-type-options" not in c.get("/").headers
    assert "x-content-type-options" not in c.get("/v1/health").headers


def _cookie_not_httponly(c: httpx.Client) -> None:
    fresh = httpx.post(c.base_url.join("/api/generate"), json={"companyName": "Test"})  # a new session
    cookie = fresh.headers["set-cookie"]
    assert cookie.startswith("coldcopy_session=") and "httponly" not in cookie.lower()


def _broken_link(c: httpx.Client) -> None:
    assert 'href="/pricing"' in c.get("/").text and c.get("/pricing").status_code == 404


def _a11y_violation(c: httpx.Client) -> None:
    page = c.get("/intake").text
    assert 'id="target_company"' in page and 'for="target_company"' not in page  # the field, without its label
    assert 'for="target_name"' in page  # the other fields keep theirs


def _cold_start_slow(c: httpx.Client) -> None:
    def timed(path: str) -> float:
        started = time.perf_counter()
        c.get(path)
        return time.perf_counter() - started

    first, second = timed("/api/session"), timed("/api/session")
    assert first >= 2.9 and second < 1.0, (first, second)  # the first call of the release starts it; then warm


def _long_field_crash(c: httpx.Client) -> None:
    assert c.post("/api/intake", json={**VALID_INTAKE, "target_reason": "r" * 5001}).status_code == 500
    assert c.post("/api/intake", json={**VALID_INTAKE, "target_reason": "r" * 5000}).status_code == 400  # the edge


def _late_lcp(c: httpx.Client) -> None:
    page = c.get("/").text
    assert '<main id="late-main" hidden>' in page and "setTimeout(" in page and "3000" in page


def _late_shift(c: httpx.Client) -> None:
    page = c.get("/").text
    assert "promo-banner" in page and "600" in page and "hidden>" not in page  # shifts late, paints on time


def _form_405(c: httpx.Client) -> None:
    page = c.get("/intake").text  # the script is inlined in the page
    assert 'fetch("/intake", {' in page and 'alert("Failed to submit")' in page
    assert c.post("/intake", json=VALID_INTAKE).status_code == 405


def _dashboard_late_error(c: httpx.Client) -> None:
    page = c.get("/dashboard?campaign=test").text
    assert ".campaign-owner').textContent" in page and "200" in page  # thrown after the campaign shows


def _forged_token_accepted(c: httpx.Client) -> None:
    assert c.get("/manuscripts", headers={"Authorization": "Bearer sgd_forged"}).status_code == 200
    assert c.get("/manuscripts").status_code == 401


def _post_cookie_no_flags(c: httpx.Client) -> None:
    ok = httpx.post(c.base_url.join("/api/generate"), json=VALID_GENERATION)  # a new session, a valid request
    assert ok.status_code == 200
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" not in cookie and "samesite" not in cookie
    refused = httpx.post(c.base_url.join("/api/generate"), json={"companyName": "Test"})
    assert "httponly" in refused.headers["set-cookie"].lower()  # only the successful POST drops them


def _session_public_cache(c: httpx.Client) -> None:
    assert c.get("/api/session").headers["cache-control"] == "public, max-age=600"
    assert c.get("/v1/health").headers["cache-control"] == "no-store"


def _untranslated_keys(c: httpx.Client) -> None:
    page = c.get("/").text
    assert 'data-zh="landing.tagline"' in page and 'data-zh="landing.footer_note"' in page


def _zh_page_500(c: httpx.Client) -> None:
    assert c.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).status_code == 500
    assert c.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).status_code == 200


def _stored_xss(c: httpx.Client) -> None:
    assert "p.innerHTML = fields[i][1];" in c.get("/dashboard?campaign=test").text


FAULT_CHECKS: dict[str, Callable[[httpx.Client], None]] = {
    "missing-route": _missing_route,
    "health-500": _health_500,
    "health-stale": _health_stale,
    "auth-open": _auth_open,
    "rate-limit-off": _rate_limit_off,
    "slow": _slow,
    "error-spike": _error_spike,
    "toggle-broken": _toggle_broken,
    "intake-broken": _intake_broken,
    "crash-on-bad-input": _crash_on_bad_input,
    "console-error": _console_error,
    "page-404": _page_404,
    "leak-stacktrace": _leak_stacktrace,
    "latency-regression": _latency_regression,
    "slow-endpoint": _slow_endpoint,
    "flaky-5xx": _flaky_5xx,
    "json-stack": _json_stack,
    "fields-renamed": _fields_renamed,
    "toggle-not-saved": _toggle_not_saved,
    "release-not-live": _release_not_live,
    "cert-expiring": _cert_expiring,
    "missing-nosniff": _missing_nosniff,
    "cookie-not-httponly": _cookie_not_httponly,
    "broken-link": _broken_link,
    "a11y-violation": _a11y_violation,
    "cold-start-slow": _cold_start_slow,
    "long-field-crash": _long_field_crash,
    "late-lcp": _late_lcp,
    "late-shift": _late_shift,
    "form-405": _form_405,
    "dashboard-late-error": _dashboard_late_error,
    "forged-token-accepted": _forged_token_accepted,
    "post-cookie-no-flags": _post_cookie_no_flags,
    "session-public-cache": _session_public_cache,
    "untranslated-keys": _untranslated_keys,
    "zh-page-500": _zh_page_500,
    "stored-xss": _stored_xss,
}


def test_every_fault_has_a_check() -> None:
    assert set(FAULT_CHECKS) == set(FAULTS)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_is_observable_and_rollback_heals(target: EmbeddedTarget, client: httpx.Client, fault: str) -> None:
    with deployed(target, fault):
        assert releases.read_state(target.state_path)["current"]["version"] == f"1.4.1-{fault}"
        FAULT_CHECKS[fault](client)
    # Rolled back: the healthy release answers at once, no restart.
    assert client.get("/v1/health").json()["version"] == releases.HEALTHY_VERSION
    assert client.get("/intake").status_code == 200


# ---- the browser journeys (real Chromium when one is available) -----------------------------------


def _page(browser: Any) -> tuple[Any, list[str]]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


def _fill_intake(page: Any) -> None:
    for name, value in VALID_INTAKE.items():
        page.fill(f"#{name}", value)
    page.click("#submit")


def test_browser_journeys_healthy(chromium: Any, target: EmbeddedTarget) -> None:
    page, errors = _page(chromium)
    page.goto(target.url + "/")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.click("#lang-toggle")
    assert page.evaluate("localStorage.getItem('language')") == "zh"
    page.reload()
    assert page.evaluate("document.documentElement.lang") == "zh" and "演示" in page.text_content(".brand")
    assert errors == []
    page.goto(target.url + "/intake")
    page.click("#submit")  # empty form: the server's 400 message shows, no navigation
    page.wait_for_selector("#form-error", state="visible")
    assert page.url.endswith("/intake")
    _fill_intake(page)
    page.wait_for_url("**/dashboard?campaign=camp_*")
    page.wait_for_selector("#campaign .campaign-company")
    assert "Navy Labs" in page.text_content("#campaign")
    page.close()


def test_browser_faults(chromium: Any, target: EmbeddedTarget) -> None:
    with deployed(target, "toggle-broken"):
        page, _ = _page(chromium)
        page.goto(target.url + "/")
        page.click("#lang-toggle")
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.evaluate("localStorage.getItem('language')") in (None, "en")
        page.close()
    with deployed(target, "intake-broken"):
        page, _ = _page(chromium)
        page.goto(target.url + "/intake")
        _fill_intake(page)
        page.wait_for_url("**/dashboard")
        assert "campaign=" not in page.url
        page.close()
    with deployed(target, "console-error"):
        page, errors = _page(chromium)
        page.goto(target.url + "/")
        page.wait_for_load_state("load")
        assert errors
        page.close()


# ---- Schemathesis ----------------------------------------------------------------------------------


def _schemathesis(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).with_name("schemathesis")
    if not executable.exists():
        pytest.skip("schemathesis CLI not installed")
    return subprocess.run(
        [str(executable), "run", f"{url}/openapi.json", "--seed", "1", "--no-color", *args],
        cwd=tmp_path,  # its .hypothesis/ and reports stay out of the repo
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )


@pytest.mark.slow  # a schemathesis run: tens of seconds
def test_openapi_passes_schemathesis_default_checks(target: EmbeddedTarget, tmp_path: Path) -> None:
    with httpx.Client(base_url=target.url) as http:
        token = _token(http)
        assert http.get("/openapi.json").json()["openapi"].startswith("3.")
    # A valid token lets `ignored_auth` prove that /manuscripts refuses requests without it.
    result = _schemathesis(tmp_path, target.url, "--max-examples", "30", "-H", f"Authorization: Bearer {token}")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout


@pytest.mark.slow  # a schemathesis run: tens of seconds
def test_schemathesis_catches_crash_on_bad_input(target: EmbeddedTarget, tmp_path: Path) -> None:
    with deployed(target, "crash-on-bad-input"):
        result = _schemathesis(
            tmp_path,
            target.url,
            "--max-examples",
            "10",
            "--include-path",
            "/api/generate",
            "--phases",
            "coverage",
            "--checks",
            "not_a_server_error",
        )
    assert result.returncode != 0 and "Server error" in result.stdout, result.stdout[-3000:]


def test_embedded_target_cleans_up() -> None:
    with EmbeddedTarget("page-404") as running:
        assert httpx.get(f"{running.url}/intake").status_code == 404
        state_dir = running.state_path.parent
        port = running.port
    assert not state_dir.exists()
    with socket.socket() as sock:  # the port is free again: the process is gone
        sock.bind(("127.0.0.1", port))
