"""Hygiene over what the fuzz stage saw (issue 23, point 3): a cookie without HttpOnly or SameSite, set only on
an answer to bad input that only a fuzz request reaches, and that answer cached publicly, fail the gate through
`hygiene:cookie-*` and `hygiene:cache-private` naming the fuzz request; the smoke stage's own hygiene items never
see it. One scripted server serves the module (its fault switched per test); the gates run in this process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import yaml
from loopback import serve_handler

from synthgate.checks import hygiene_late, seen
from synthgate.gate import GateOptions, run_gate
from synthgate.profile.model import Profile
from synthgate.results import StageResult, Verdict
from synthgate.stages import StageContext, stage_runner


class _Echo(BaseHTTPRequestHandler):
    """GET /health; POST /api/echo {"name": 1-20 chars}: 200, else 400 (with `faulty`: a flagless cookie, and
    Cache-Control: public on that 400); GET /api/me (with `faulty`: publicly cacheable though credentialed)."""

    faulty = False

    def version_string(self) -> str:  # no version in the Server banner (hygiene:server-banner)
        return "echo"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.split("?")[0] == "/health":
            self._reply(200, {"status": "ok"})
        elif self.path.split("?")[0] == "/api/me":
            public = self.faulty and "Authorization" in self.headers
            self._reply(200, {"me": "someone"}, [("Cache-Control", "public, max-age=600")] if public else [])
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.split("?")[0] != "/api/echo":
            self._reply(404, {"error": "not found"})
            return
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):  # fuzz sends malformed and deeply nested JSON too
            body = None
        name = body.get("name") if isinstance(body, dict) else None
        if isinstance(name, str) and 1 <= len(name) <= 20:
            self._reply(200, {"echo": name})
            return
        extra = [("Set-Cookie", "trace=t1; Path=/"), ("Cache-Control", "public, max-age=600")] if self.faulty else []
        self._reply(400, {"error": "bad input"}, extra)

    def _reply(self, status: int, body: dict[str, Any], extra: list[tuple[str, str]] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in extra or []:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


PROFILE = {
    "name": "late-hygiene",
    "health": {"path": "/health", "expect": {"status": 200}},
    "hygiene": {"cookie_httponly": "fail", "cookie_samesite": "fail", "cache_private": "fail"},
    "fuzz": {"allow_writes": True, "max_time_s": 2, "max_examples": 10, "error_fields": ["error"],
             "endpoints": [{"id": "echo", "method": "POST", "path": "/api/echo", "success": [200],
                            "extra_fields": "accept",
                            "body": {"name": {"min_length": 1, "max_length": 20}}}]},
}


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    with serve_handler(_Echo) as url:
        yield url


def _gate(url: str, tmp_path: Path, faulty: bool) -> Verdict:
    profile = tmp_path / "late.yaml"
    profile.write_text(yaml.safe_dump(PROFILE, sort_keys=False), encoding="utf-8")
    _Echo.faulty = faulty
    try:
        return run_gate(GateOptions(profile=str(profile), base_url=url, stages=["smoke", "fuzz"],
                                    reports_dir=tmp_path / "reports", no_rollback=True, baseline="none",
                                    progress=lambda _: None))
    finally:
        _Echo.faulty = False


def _checks(verdict: Verdict, stage: str) -> dict[str, Any]:
    return {c.id: c for s in verdict.stages if s.name == stage for c in s.checks}


@pytest.mark.slow  # a whole gate with a fuzz stage
def test_a_flagless_cookie_only_fuzz_reached_fails_the_gate_naming_the_fuzz_request(echo: str,
                                                                                     tmp_path: Path) -> None:
    verdict = _gate(echo, tmp_path, faulty=True)
    assert verdict.verdict == "fail" and verdict.exit_code == 1, verdict.reason
    smoke = _checks(verdict, "smoke")
    for item in ("hygiene:cookie-httponly", "hygiene:cookie-samesite", "hygiene:cache-private"):
        assert smoke[item].status == "passed", smoke[item].message  # the smoke stage never met the cookie
    late = _checks(verdict, hygiene_late.STAGE)
    where = "on POST /api/echo (400, seen by fuzz check fuzz.echo)"
    assert late["hygiene:cookie-httponly"].status == "failed"
    assert f"cookie trace set without HttpOnly {where}" in late["hygiene:cookie-httponly"].message
    assert f"cookie trace set without SameSite {where}" in late["hygiene:cookie-samesite"].message
    cache = late["hygiene:cache-private"]
    assert cache.status == "failed" and "publicly cacheable (Cache-Control: public, max-age=600)" in cache.message
    assert "POST /api/echo" in cache.message and "fuzz check fuzz.echo" in cache.message
    findings = late["hygiene:cookie-httponly"].details["findings"]
    assert findings == ["cookie trace set without HttpOnly on POST /api/echo"]
    assert {f"{hygiene_late.STAGE}/hygiene:cookie-httponly", f"{hygiene_late.STAGE}/hygiene:cache-private"} <= {
        f"{s}/{c.id}" for s, c in verdict.failed_checks()}
    assert _checks(verdict, "fuzz")["fuzz.echo"].status == "passed"  # the fuzz properties themselves hold


@pytest.mark.slow
def test_the_same_server_without_the_cookie_passes(echo: str, tmp_path: Path) -> None:
    verdict = _gate(echo, tmp_path, faulty=False)
    assert verdict.verdict == "pass", verdict.reason
    assert _checks(verdict, "fuzz")["fuzz.echo"].status == "passed"


def test_a_finding_judged_before_is_not_reported_again(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9"
    profile = Profile.model_validate({"name": "x", "hygiene": {"cookie_httponly": "fail"}})
    seen.begin(tmp_path, url)
    try:
        headers = [("Set-Cookie", "sid=1; Path=/; SameSite=Lax")]
        seen.record(seen.entry("POST", url + "/login", 200, [], headers, by="smoke check login"))
        judged = hygiene_late.mark()
        seen.record(seen.entry("POST", url + "/login", 400, [], headers, by="fuzz check fuzz.login"))
        late = hygiene_late.stage(profile, judged)
        assert late is not None
        assert {c.id: c.status for c in late.checks}["hygiene:cookie-httponly"] == "passed"  # smoke reported it
        seen.record(seen.entry("POST", url + "/other", 400, [], headers, by="fuzz check fuzz.other"))
        late = hygiene_late.stage(profile, judged)
        assert late is not None
        failed = {c.id: c.message for c in late.checks if c.status == "failed"}
        assert failed == {"hygiene:cookie-httponly": "cookie sid set without HttpOnly on POST /other "
                                                     "(400, seen by fuzz check fuzz.other)"}
        assert hygiene_late.stage(profile, hygiene_late.mark()) is None  # nothing new after the last judgement
    finally:
        seen.close()


def test_a_ledger_that_cannot_be_written_never_fails_the_request_it_records(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9"
    path = seen.begin(tmp_path, url)
    try:
        path.unlink()
        path.mkdir()  # appending to it now fails, as on a full disk or a folder removed under the run
        headers = [("Set-Cookie", "sid=1; Path=/")]
        seen.record(seen.entry("GET", url + "/a", 200, [], headers, by="load task GET /a"))  # no exception
        seen.record(seen.entry("GET", url + "/b", 200, [], headers, by="load task GET /b"))  # nor later
        assert str(path) in seen.memory().unwritable
    finally:
        seen.close()


@pytest.mark.slow  # a load stage (Locust in a child process)
def test_the_load_stages_answers_are_judged_too(echo: str, tmp_path: Path) -> None:
    profile = Profile.model_validate({
        "name": "late-load", "hygiene": {"cache_private": "fail"},
        "load": {"tasks": [{"path": "/api/me", "headers": {"Authorization": "Bearer t0k3n"}}], "users": 2,
                 "duration_s": 1.5}})
    path = tmp_path / "load.yaml"
    path.write_text(yaml.safe_dump(profile.model_dump(mode="json", by_alias=True, exclude_none=True)))
    seen.begin(tmp_path, echo)
    _Echo.faulty = True
    try:
        result: StageResult = stage_runner("load")(StageContext(
            profile=profile, profile_path=path, base_url=echo, reports_dir=tmp_path / "r", progress=lambda _: None))
        late = hygiene_late.stage(profile, 0)
        lines = seen.read()
    finally:
        _Echo.faulty = False
        seen.close()
    assert result.status == "passed", [c.message for c in result.failed_checks]
    assert late is not None
    cache = {c.id: c for c in late.checks}["hygiene:cache-private"]
    assert cache.status == "failed", cache.message
    assert ("publicly cacheable (Cache-Control: public, max-age=600) though its request carried a cookie or "
            "Authorization on GET /api/me (200, seen by load task GET /api/me)") in cache.message
    # every user's first answer only, one line per distinct answer shape: hundreds of requests, one line
    assert [(line["method"], line["path"], line["credentialed"]) for line in lines] == [("GET", "/api/me", True)]
    assert "t0k3n" not in json.dumps(lines)  # header names only, never their values
