"""Log in once: the auth: section runs once per gate, its values reach every stage process, one re-login on 401."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from detect_server import Script, serve
from verdicts import read_verdict

from synthgate import auth, run_context
from synthgate.gate import GateOptions, run_gate
from synthgate.profile.model import Profile


def _login_script(expire_first_after: int | None = None) -> Script:
    script = Script()
    uses: dict[str, int] = {}

    def login(_handler: Any, body: bytes) -> Any:
        data = json.loads(body or b"{}")
        if data.get("password") != "pw-for-tests":
            return 401, {"error": "invalid_credentials"}
        return 200, {"token": script.issue_token()}

    def private(handler: Any, _body: bytes) -> Any:
        if not script.bearer_ok(handler):
            return 401, {"error": "unauthorized"}
        token = handler.headers["authorization"].split(" ", 1)[1]
        uses[token] = uses.get(token, 0) + 1
        if expire_first_after is not None and script.logins == 1 and uses[token] > expire_first_after:
            script.tokens.discard(token)  # the first session expires: the next request meets a 401
            return 401, {"error": "token_expired"}
        return 200, {"items": [1, 2]}

    script.answers.update({"/health": [(200, {"status": "ok"})], "/login": login, "/private": private})
    return script


def _profile(tmp_path: Path, password: str = "pw-for-tests", load: bool = False) -> Path:
    header = {"Authorization": "Bearer ${auth.token}"}
    profile: dict[str, Any] = {
        "name": "detect-auth", "health": {"path": "/health"}, "security": {"enabled": False},
        "hygiene": {"enabled": False},  # a bare test server: security headers are not what this test is about
        "defaults": {"retries": 1, "backoff_s": 0.05}, "baseline": {"enabled": False},
        "auth": {"steps": [{"request": {"method": "POST", "path": "/login", "json": {"password": password}},
                            "expect": {"status": 200}, "save": {"token": "token"}}]},
        "checks": [{"id": f"private-{n}", "request": {"method": "POST", "path": "/private", "headers": header},
                    "expect": {"status": 200}} for n in range(3)],
    }
    if load:
        profile["load"] = {"tasks": [{"path": "/private", "headers": header}], "users": 2, "duration_s": 1,
                           "max_requests": 40, "thresholds": {"p95_ms": 2000, "error_rate": 0.01}}
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps(profile))
    return path


def _gate(tmp_path: Path, script: Script, stages: list[str], **kw: Any) -> dict[str, Any]:
    with serve(script) as url:
        run_gate(GateOptions(profile=str(_profile(tmp_path, **kw)), base_url=url, stages=stages,
                             reports_dir=tmp_path / "r", progress=lambda _: None, baseline="none", no_rollback=True))
    return read_verdict(tmp_path / "r")


def _checks(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for s in verdict["stages"] for c in s["checks"]}


def _written(reports: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in reports.rglob("*") if p.is_file())


def test_one_login_serves_smoke_and_load_and_the_token_stays_secret(tmp_path: Path) -> None:
    script = _login_script()
    verdict = _gate(tmp_path, script, ["smoke", "load"], load=True)
    checks = _checks(verdict)
    assert all(checks[f"private-{n}"]["status"] == "passed" for n in range(3))
    assert checks["load.error_rate[GET /private]"]["status"] == "passed"  # the Locust processes had the token
    assert script.logins == 1  # once per gate, shared by the stage processes
    assert script.hits["/private"] >= 3 + 20
    written = _written(tmp_path / "r")
    assert not any(token in written for token in script.tokens)  # registered as a secret everywhere
    assert not list((tmp_path / "r").rglob("auth-session.json"))  # the session file does not outlive the gate
    assert run_context.current().auth_session is None  # and the run context no longer names it


def test_a_401_logs_in_again_once(tmp_path: Path) -> None:
    script = _login_script(expire_first_after=1)
    verdict = _gate(tmp_path, script, ["smoke"])
    checks = _checks(verdict)
    assert all(checks[f"private-{n}"]["status"] == "passed" for n in range(3)), checks
    assert script.logins == 2  # the gate's login, then one re-login in the smoke process


def test_a_failed_login_fails_fast(tmp_path: Path) -> None:
    script = _login_script()
    verdict = _gate(tmp_path, script, ["smoke"], password="wrong")
    login = _checks(verdict)["auth.login"]
    assert login["status"] == "failed" and "status 401" in login["message"]
    assert [s["status"] for s in verdict["stages"] if s["name"] == "smoke"] == ["skipped"]
    assert verdict["verdict"] == "fail"


def test_session_file_is_private_and_oauth2_client_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script()
    seen: dict[str, Any] = {}

    def token(_handler: Any, body: bytes) -> Any:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        seen.update(form)
        ok = form.get("grant_type") == "client_credentials" and form.get("client_secret") == "s3cret-value"
        return (200, {"access_token": "at_" + "x" * 20, "token_type": "Bearer", "expires_in": 60}) if ok else (
            401, {"error": "invalid_client"})

    script.answers["/oauth/token"] = token
    monkeypatch.setenv("DETECT_CLIENT_SECRET", "s3cret-value")
    profile = Profile.model_validate({
        "name": "o", "secrets": {"client_secret": {"env": "DETECT_CLIENT_SECRET"}},
        "auth": {"oauth2": {"token_url": "/oauth/token", "client_id": "gate", "scope": "read",
                            "client_secret": "${secrets.client_secret}"}}})
    try:
        with serve(script) as url:
            session, tried = auth.start(profile, url, tmp_path)
        assert session is not None and tried is not None and tried.final.ok
        assert seen["scope"] == "read" and seen["client_id"] == "gate"
        assert auth.value("access_token") == "at_" + "x" * 20 and auth.value("token") == auth.value("access_token")
        path = Path(str(run_context.current().auth_session))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        from synthgate.redact import redactor

        assert redactor("Bearer at_" + "x" * 20).count("x" * 20) == 0
    finally:
        auth.end()
    assert not (tmp_path / "auth-session.json").exists()


def test_auth_section_is_validated() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="exactly one of 'steps'"):
        Profile.model_validate({"name": "x", "auth": {}})
