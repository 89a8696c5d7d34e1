"""Deploy hygiene: security headers and cookie flags per item, severities, and the demo faults that break them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from synthgate.checks import hygiene
from synthgate.demo import embedded
from synthgate.gate import GateOptions, run_gate
from synthgate.profile import bundled_dir
from synthgate.profile.readiness import HygieneConfig

GOOD_HTML = {"content-type": "text/html; charset=utf-8", "x-content-type-options": "nosniff",
             "content-security-policy": "default-src 'self'; frame-ancestors 'none'", "referrer-policy": "no-referrer",
             "server": "uvicorn"}


def _findings(item: str, headers: dict[str, str] | list[tuple[str, str]], https: bool = True,
              cfg: HygieneConfig | None = None) -> list[str]:
    return hygiene.item_findings(item, hygiene.Answer("GET /", httpx.Headers(headers), https), cfg or HygieneConfig())


def test_a_well_configured_page_has_no_findings() -> None:
    cookie = [*GOOD_HTML.items(), ("set-cookie", "sid=1; Path=/; Secure; HttpOnly; SameSite=Lax")]
    assert all(_findings(item, cookie) == [] for item in hygiene.ITEMS)


@pytest.mark.parametrize(("item", "drop", "expected"), [
    ("nosniff", "x-content-type-options", "X-Content-Type-Options: nosniff missing"),
    ("csp", "content-security-policy", "Content-Security-Policy missing"),
    ("framing", "content-security-policy", "no framing policy"),
    ("referrer_policy", "referrer-policy", "Referrer-Policy missing"),
])
def test_each_missing_header_is_named(item: str, drop: str, expected: str) -> None:
    headers = {k: v for k, v in GOOD_HTML.items() if k != drop}
    assert any(expected in f for f in _findings(item, headers))


def test_framing_accepts_x_frame_options_and_html_only_items_skip_json() -> None:
    headers = {**GOOD_HTML, "content-security-policy": "default-src 'self'", "x-frame-options": "DENY"}
    assert _findings("framing", headers) == []
    api = {"content-type": "application/json", "x-content-type-options": "nosniff"}
    assert _findings("csp", api) == [] and _findings("framing", api) == [] and _findings("referrer_policy", api) == []


def test_cookie_flags() -> None:
    bare = [("set-cookie", "sid=1; Path=/")]
    assert _findings("cookie_httponly", bare) == ["cookie sid set without HttpOnly"]
    assert _findings("cookie_secure", bare) == ["cookie sid set without Secure over HTTPS"]
    assert _findings("cookie_secure", bare, https=False) == []  # Secure is asked for on HTTPS only
    assert _findings("cookie_samesite", bare) == ["cookie sid set without SameSite"]
    none = [("set-cookie", "sid=1; HttpOnly; SameSite=None")]
    assert _findings("cookie_samesite", none) == ["cookie sid has SameSite=None without Secure"]
    only_session = HygieneConfig(session_cookies=["session"])
    assert _findings("cookie_httponly", bare, cfg=only_session) == []  # `sid` is not a session cookie here


def test_version_banners() -> None:
    assert _findings("server_banner", {"server": "nginx/1.25.3", "x-powered-by": "PHP/8.2.1"}) == [
        "server: nginx/1.25.3 names a version", "x-powered-by: PHP/8.2.1 names a version"]
    assert _findings("server_banner", {"server": "cloudflare"}) == []


def _failed(verdict_path: Path) -> list[str]:
    verdict = json.loads(verdict_path.read_text())
    return [c["id"] for s in verdict["stages"] for c in s["checks"] if c["status"] == "failed"]


@pytest.mark.parametrize(("fault", "check", "text"), [
    ("missing-nosniff", "hygiene:nosniff", "X-Content-Type-Options: nosniff missing on GET /"),
    ("cookie-not-httponly", "hygiene:cookie-httponly", "cookie coldcopy_session set without HttpOnly"),
])
def test_hygiene_faults_fail_the_gate_through_their_check(fault: str, check: str, text: str, cli,
                                                          tmp_path: Path) -> None:
    proc = cli("run", "--demo-fault", fault, "--stages", "smoke", "--no-rollback", "--reports", str(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert _failed(tmp_path / "verdict.json") == [check]
    assert text in (tmp_path / "summary.md").read_text()


def test_a_warn_item_is_reported_and_never_fails_the_gate(tmp_path: Path) -> None:
    demo = yaml.safe_load((bundled_dir() / "demo.yaml").read_text())
    demo["hygiene"]["nosniff"] = "warn"
    profile = tmp_path / "demo-warn.yaml"
    profile.write_text(yaml.safe_dump(demo))
    verdict = run_gate(GateOptions(profile=str(profile), stages=["smoke"],
                                   open_target=embedded.opener(None, "missing-nosniff"),
                                   reports_dir=tmp_path / "r", no_rollback=True, baseline="none",
                                   progress=lambda _: None))
    assert verdict.verdict == "pass", verdict.reason
    check = next(c for _, c in verdict.all_checks() if c.id == "hygiene:nosniff")
    assert check.status == "passed" and "X-Content-Type-Options: nosniff missing" in check.warnings[0]
    summary = (tmp_path / "r" / "summary.md").read_text()
    assert "## Warnings" in summary and "hygiene:nosniff" in summary
