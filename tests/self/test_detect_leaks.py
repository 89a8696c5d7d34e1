"""Leak scan on decoded content (JSON strings, nested; HTML text) and +json media types treated as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from verdicts import read_verdict

from synthgate.checks.expect import check_response, content_type_matches
from synthgate.checks.security import body_leaks, is_json_media_type
from synthgate.demo.faults import JS_STACK
from synthgate.http import Exchange
from synthgate.profile.model import Expect


def _exchange(body: str, content_type: str, status: int = 400) -> Exchange:
    response = httpx.Response(status, text=body, headers={"content-type": content_type})
    return Exchange(method="GET", url="http://t/x", headers={}, body=None, response=response)


def test_js_stack_escaped_in_json_is_found_nested() -> None:
    body = json.dumps({"error": "bad input", "details": [{"debug": {"stack": JS_STACK}}]})
    assert "\n" not in body  # the raw text has only escaped newlines
    leaks = body_leaks(body, "application/json")
    assert leaks and "at onRequestPost" in leaks[0]


def test_escaped_secret_in_json_is_found(monkeypatch) -> None:
    from synthgate.redact import redactor

    monkeypatch.setitem(redactor._secrets, "s3cr3t/value", "TEST_SECRET_ENV")  # registered for this test only
    body = json.dumps({"echo": "s3cr3t/value"}).replace("/", "\\/")  # a legal JSON escape hides the raw value
    assert "s3cr3t/value" not in body
    assert "response body contains a secret value" in body_leaks(body, "application/json")


def test_html_error_page_is_scanned_decoded() -> None:
    page = ("<html><body><pre>Traceback (most recent call last):\n  File &quot;/app/main.py&quot;, line 3, "
            "in f</pre></body></html>")
    assert body_leaks(page, "text/html")
    page = "<p>at handler (<b>functions/api/x.js</b>:42:17)</p>\n<p>  at handler (functions/api/x.js:42:17)</p>"
    assert body_leaks(page, "text/html")


def test_clean_bodies_have_no_leaks() -> None:
    assert body_leaks(json.dumps({"error": "tone must be one of Direct, Casual"}), "application/json") == []
    assert body_leaks("<html><p>Not found</p></html>", "text/html") == []
    assert body_leaks("[[[[" * 10, "application/json") == []  # invalid JSON: raw scan only, no crash


def test_plus_json_media_types_are_json() -> None:
    for ctype in ("application/json", "application/problem+json", "application/vnd.api+json; charset=utf-8"):
        assert is_json_media_type(ctype)
        assert content_type_matches(ctype, "application/json")
    assert not is_json_media_type("text/json+html") and not content_type_matches("text/html", "application/json")
    problem = _exchange(json.dumps({"type": "about:blank", "title": "Bad Request", "status": 400}),
                        "application/problem+json")
    assert check_response(problem, Expect(status=[400], content_type="application/json"), None) == []


def test_fuzz_error_body_accepts_problem_json() -> None:
    from synthgate.fuzz.properties import error_body_problem

    problem = _exchange(json.dumps({"error": "bad", "title": "Bad Request"}), "application/problem+json")
    assert error_body_problem(problem, "application/json", ("error",)) is None
    html = _exchange("<p>bad</p>", "text/html")
    assert error_body_problem(html, "application/json", ("error",)) is not None


def test_json_stack_fault_fails_its_smoke_check(tmp_path: Path, cli) -> None:
    proc = cli("run", "--stages", "smoke", "--demo-fault", "json-stack", "--no-rollback", "--reports", str(tmp_path))
    verdict = read_verdict(tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failed = {c["id"]: c["message"] for s in verdict["stages"] for c in s["checks"] if c["status"] == "failed"}
    assert "generate-rejects-bad-input" in failed
    assert "stack trace" in failed["generate-rejects-bad-input"]
