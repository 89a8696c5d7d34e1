"""TLS readiness: certificate lifetime, hostname, chain, plain-HTTP redirect, HSTS; `demo serve --tls`."""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from readiness_server import serve
from verdicts import read_verdict

from synthgate import run_context
from synthgate.checks import tls
from synthgate.demo.certs import make_tls_files
from synthgate.demo.server import EmbeddedTarget
from synthgate.profile.model import Profile
from synthgate.profile.readiness import CA_BUNDLE_ENV


def _profile(**tls_cfg: object) -> Profile:
    return Profile.model_validate({"name": "t", "defaults": {"timeout_s": 5, "retries": 0}, "tls": tls_cfg,
                                   "pages": [{"id": "home", "path": "/"}]})


def test_hostname_matching_follows_rfc6125() -> None:
    assert tls.hostname_matches("app.example.com", ["*.example.com"], [])
    assert not tls.hostname_matches("a.b.example.com", ["*.example.com"], [])
    assert not tls.hostname_matches("example.com", ["*.example.com"], [])
    assert not tls.hostname_matches("x.com", ["*.com"], [])  # no wildcard over a public suffix
    assert tls.hostname_matches("EXAMPLE.com.", ["example.com"], [])
    assert tls.hostname_matches("127.0.0.1", ["localhost"], ["127.0.0.1"])
    assert not tls.hostname_matches("127.0.0.1", ["127.0.0.1"], [])  # an IP is matched against IP entries only


def test_expiry_thresholds() -> None:
    assert tls.expiry_finding(3.0, 14, 30) == ("fail", "certificate expires in 3 days (under tls.min_days 14)")
    assert tls.expiry_finding(20.0, 14, 30)[0] == "warn"
    assert tls.expiry_finding(45.0, 14, 30) is None
    assert tls.expiry_finding(-2.0, 14, 30) == ("fail", "certificate expired 2 days ago")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert tls.days_left(now + timedelta(days=3), now) == 3.0


def test_hsts_values() -> None:
    assert tls.hsts_finding("max-age=31536000; includeSubDomains") is None
    assert "missing" in str(tls.hsts_finding(None))
    assert "max-age is 0" in str(tls.hsts_finding("max-age=0"))
    assert "no max-age" in str(tls.hsts_finding("includeSubDomains"))


def test_demo_serves_https_that_the_gate_trusts_through_its_ca() -> None:
    with EmbeddedTarget(tls=True) as target:
        assert target.url.startswith("https://")
        ca = target.ca_bundle
        assert ca is not None and Path(ca).is_file()
        profile = _profile()
        cert = tls.certificate(profile, target.url)
        assert cert.ok, cert.message
        assert "valid for 90 more days" in cert.message
        assert tls.hsts(profile, target.url).ok
        redirect = tls.http_redirect(profile, target.url)  # nothing serves plain HTTP on port 80 here
        assert redirect.ok and "not served" in redirect.message
    assert run_context.current().ca_bundle is None and CA_BUNDLE_ENV not in os.environ  # handed back at the stop
    with EmbeddedTarget(tls=True) as target:
        run_context.update(ca_bundle=None)  # without the CA, the same certificate does not verify
        outcome = tls.certificate(_profile(), target.url)
        assert not outcome.ok and "trusted root" in outcome.message


def test_hostname_mismatch_and_chain_severities(tmp_path: Path) -> None:
    files = make_tls_files(tmp_path, days=60, names=["other.example"])
    with serve({"/": (200, {"Content-Type": "text/html"}, "hi")}, files.cert, files.key) as url:
        strict = tls.certificate(_profile(ca_bundle=str(files.ca)), url)
        assert not strict.ok and "does not name 127.0.0.1 (it names other.example)" in strict.message
        lax = tls.certificate(_profile(ca_bundle=str(files.ca), hostname="warn"), url)
        assert lax.ok and lax.message.startswith("warning: certificate does not name 127.0.0.1")
        untrusted = tls.certificate(_profile(hostname="off"), url)
        assert not untrusted.ok and "trusted root" in untrusted.message
    good = make_tls_files(tmp_path / "good", days=60)
    with serve({"/": (200, {"Content-Type": "text/html"}, "hi")}, good.cert, good.key) as url:
        hsts = tls.hsts(_profile(ca_bundle=str(good.ca)), url)
        assert not hsts.ok and "Strict-Transport-Security (HSTS) header missing on GET /" in hsts.message
        assert tls.hsts(_profile(ca_bundle=str(good.ca), hsts="warn"), url).ok


def test_plain_http_must_redirect_to_https(tmp_path: Path) -> None:
    routes = {"/": (200, {"Content-Type": "text/html"}, "plain")}
    with serve(routes) as plain:
        outcome = tls.http_redirect(_profile(http_url=plain + "/"), "https://127.0.0.1:1")
        assert not outcome.ok and "answered 200 instead of redirecting to https://" in outcome.message
    with serve({"/": (301, {"Location": "https://127.0.0.1/"}, "")}) as redirecting:
        outcome = tls.http_redirect(_profile(http_url=redirecting + "/"), "https://127.0.0.1:1")
        assert outcome.ok and "redirects (301)" in outcome.message


def test_cert_expiring_fault_fails_the_gate_through_the_tls_check(cli, tmp_path: Path) -> None:
    proc = cli("run", "--demo-fault", "cert-expiring", "--stages", "smoke", "--no-rollback", "--reports", str(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    verdict = read_verdict(tmp_path)
    assert verdict["base_url"].startswith("https://")
    failed = [c["id"] for s in verdict["stages"] for c in s["checks"] if c["status"] == "failed"]
    assert failed == ["tls:certificate"]  # and by no accident: every other check passes over HTTPS
    assert "certificate expires in 3 days (under tls.min_days 14)" in (tmp_path / "summary.md").read_text()


def test_ca_bundle_that_is_not_a_file_is_a_profile_error(cli, tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("name: p\nbase_url: https://127.0.0.1:1\ntls: {ca_bundle: /nonexistent/ca.pem}\n")
    proc = cli("run", "--profile", str(profile), "--stages", "smoke", "--reports", str(tmp_path / "r"))
    assert proc.returncode == 2
    assert "tls.ca_bundle" in proc.stderr and "not a file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_demo_serve_tls_command_prints_the_ca_and_serves_https(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    from synthgate.demo.server import free_port

    port = free_port()
    state = tmp_path / "demo.json"
    proc = subprocess.Popen([sys.executable, "-m", "synthgate", "demo", "serve", "--tls", "--port", str(port),
                             "--state", str(state)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        ca = tmp_path / "demo-tls" / "ca.pem"
        deadline = time.monotonic() + 20
        answer = None
        while time.monotonic() < deadline and answer is None:
            time.sleep(0.2)
            if ca.is_file():
                with contextlib.suppress(httpx.HTTPError):
                    answer = httpx.get(f"https://127.0.0.1:{port}/v1/health", verify=ssl_context(ca), timeout=2)
        assert answer is not None and answer.status_code == 200
        assert answer.headers["strict-transport-security"].startswith("max-age=")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"https://127.0.0.1:{port}" in out and f"SYNTHGATE_CA_BUNDLE={ca}" in out


def ssl_context(ca: Path):
    import ssl

    return ssl.create_default_context(cafile=str(ca))
