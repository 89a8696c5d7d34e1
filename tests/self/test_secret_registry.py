"""The secret registry learns at run time, across processes, and nothing it knows reaches any file or the console."""

from __future__ import annotations

import base64
import io
import json
import os
import random
import re
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from verdicts import read_verdict

from synthgate import run_context
from synthgate.http import to_curl
from synthgate.redact import Redactor, _trie_pattern, mask_url, redactor

URL_PASSWORD = "urlpw7Hq2canaryA"
ENV_SECRET = "envsecret9Kx4canaryB"
COOKIE = "cookie5Vb8canaryC"
TOKEN = "token3Nm6canaryD"
STORAGE = "storage1Zq7canaryE"
CANARIES = [URL_PASSWORD, ENV_SECRET, COOKIE, TOKEN, STORAGE,
            base64.b64encode(f"ops:{URL_PASSWORD}".encode()).decode()]  # the Basic header httpx sends

PAGE = f"""<!doctype html><html><head><title>secrets</title></head><body><p id="who">loading</p>
<script>localStorage.setItem("session", "{STORAGE}");
document.getElementById("who").textContent = "hello " + localStorage.getItem("session");</script></body></html>"""


class _Target(BaseHTTPRequestHandler):
    """Hands out a cookie and a token, then echoes them (and the Authorization header) in error bodies."""

    def log_message(self, *args: object) -> None:  # quiet
        return

    def _send(self, status: int, payload: object, extra: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        echo = {"error": "boom", "sid": COOKIE, "auth": self.headers.get("Authorization", ""),
                "token": self.headers.get("X-Token", "")}
        if self.path == "/health":
            self._send(200, {"status": "ok"}, {"Set-Cookie": f"sid={COOKIE}; Path=/; HttpOnly"})
        elif self.path == "/":
            self._send(200, PAGE, content_type="text/html; charset=utf-8")
        else:  # /whoami, /me: a failing answer that leaks what it was given
            self._send(500 if self.path == "/whoami" else 403, echo)

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(200, {"token": TOKEN})


@pytest.fixture
def target() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


PROFILE = """\
name: secrets
tls: {enabled: false}
hygiene: {enabled: false}
security: {enabled: false}
secrets: {api: {env: SG_TEST_API_SECRET}}
headers: {Authorization: "Bearer ${secrets.api}"}
defaults: {timeout_s: 5, retries: 0, backoff_s: 0}
health: {path: /health, expect: {status: 200}}
checks:
  - id: echo-cookie
    steps:
      - {request: {path: /health}, expect: {status: 200}}
      - {request: {path: /whoami}, expect: {status: 200}}
  - id: token-flow
    steps:
      - {request: {method: POST, path: /login, json: {user: ops}}, expect: {status: 200}, save: {token: token}}
      - {request: {path: /me, headers: {X-Token: "${saved.token}"}}, expect: {status: 200}}
journeys:
  - {id: landing, kind: landing, path: /, expect_text: never-on-this-page}
e2e: {trace: always}
"""


def _every_byte(folder: Path) -> Iterator[tuple[str, bytes]]:
    """Every file under folder, and every member of every zip (traces) unpacked, nested zips included."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            yield str(path.relative_to(folder)), data
            yield from _members(str(path.relative_to(folder)), data)


def _members(name: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            inner = archive.read(info)
            yield f"{name}!{info.filename}", inner
            yield from _members(f"{name}!{info.filename}", inner)


def _run(cli, tmp_path: Path, port: int, stages: str) -> tuple[object, Path]:
    profile = tmp_path / "secrets.yaml"
    profile.write_text(PROFILE)
    reports = tmp_path / f"reports-{stages}"
    proc = cli("run", "--profile", str(profile), "--base-url", f"http://ops:{URL_PASSWORD}@127.0.0.1:{port}",
               "--stages", stages, "--no-rollback", "--deadline", "150", "--reports", str(reports),
               env={"SG_TEST_API_SECRET": ENV_SECRET}, timeout=200)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr
    return proc, reports


def test_no_secret_of_any_kind_reaches_any_artefact(tmp_path: Path, target: int, cli) -> None:
    # smoke and e2e apart: smoke fails (to get curl repros and attachments) and fail-fast would skip e2e
    smoke, smoke_reports = _run(cli, tmp_path, target, "smoke")
    e2e, e2e_reports = _run(cli, tmp_path, target, "e2e")
    verdict = read_verdict(smoke_reports)
    ids = {c["id"]: c for s in verdict["stages"] for c in s["checks"]}
    assert ids["echo-cookie"]["status"] == "failed" and ids["token-flow"]["status"] == "failed"
    assert verdict["base_url"] == f"http://ops:[REDACTED]@127.0.0.1:{target}"
    written = list(_every_byte(smoke_reports)) + list(_every_byte(e2e_reports))
    assert any(name.endswith(".zip") for name, _ in written), "no trace to look into"
    leaks = [(name, canary) for name, data in written for canary in CANARIES if canary.encode() in data]
    for proc in (smoke, e2e):
        leaks += [("console", c) for c in CANARIES if c in proc.stdout + proc.stderr]  # type: ignore[attr-defined]
    assert leaks == []
    # the curl repros reference the secrets instead of holding them
    curls = " ".join(c.get("curl") or "" for c in ids.values())
    assert '"$SG_TEST_API_SECRET"' in curls and '"$SAVED_TOKEN"' in curls, curls
    # and the file the processes shared the learned secrets through is not among the artefacts
    assert not any(name.endswith("secrets.jsonl") for name, _ in written)


def test_curl_repro_references_every_occurrence_of_every_secret() -> None:
    registry = Redactor()
    registry.add("alpha-secret-1", "ALPHA")
    registry.learn("beta-secret-22", "saved token")
    import synthgate.http as http_module

    saved = http_module.redactor
    http_module.redactor = registry
    try:
        line = to_curl("POST", "http://h/x?a=alpha-secret-1", {"Authorization": "Bearer alpha-secret-1",
                                                             "X-T": "beta-secret-22"},
                       b'{"a": "alpha-secret-1", "b": "beta-secret-22", "c": "alpha-secret-1"}')
    finally:
        http_module.redactor = saved
    assert "alpha-secret-1" not in line and "beta-secret-22" not in line
    assert line.count('"$ALPHA"') == 4 and line.count('"$SAVED_TOKEN"') == 2, line


def test_learned_values_reach_every_process_through_the_shared_file(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(run_context.CONTEXT_ENV, raising=False)  # before the registry reads it: a fresh run
    parent = Redactor()
    path = parent.share()
    try:
        assert run_context.current().secrets_file == str(path) and oct(path.parent.stat().st_mode & 0o777) == "0o700"
        child = ("from synthgate.redact import redactor\n"
                 "redactor.add_set_cookie('session=child-learned-cookie-1; HttpOnly')\n"
                 "redactor.learn('child-saved-value-2', 'SAVED_x')\n")
        subprocess.run([sys.executable, "-c", child], check=True, env=dict(os.environ), timeout=60)
        text = parent("a child-learned-cookie-1 b child-saved-value-2")
        assert text == "a [REDACTED:COOKIE_SESSION] b [REDACTED:SAVED_X]"
    finally:
        parent.unshare()
    assert not path.exists() and run_context.current().secrets_file is None


def test_url_userinfo_forms_and_masking() -> None:
    registry = Redactor()
    registry.add_url("https://deploy:p%40ss-word-9@example.test/x")
    for form in ("p@ss-word-9", "p%40ss-word-9", base64.b64encode(b"deploy:p@ss-word-9").decode()):
        assert form not in registry(f"see {form} here"), form
    assert mask_url("https://deploy:p%40ss@example.test/x") == "https://deploy:[REDACTED]@example.test/x"
    assert mask_url("https://example.test/x") == "https://example.test/x"


def test_learned_values_must_look_like_credentials() -> None:
    registry = Redactor()
    registry.add_set_cookie("theme=dark; Path=/")  # a preference, not a credential: redacting it would mangle text
    registry.add_set_cookie("sid=7f3a9c1e5b2d; Path=/")
    assert registry("dark mode, sid 7f3a9c1e5b2d") == "dark mode, sid [REDACTED:COOKIE_SID]"
    assert redactor is not registry


def test_a_nested_gate_never_deletes_its_parents_share_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(run_context.CONTEXT_ENV, raising=False)  # before the registry reads it: a fresh run
    parent = Redactor()
    path = parent.share()
    try:
        child = ("from synthgate.redact import redactor\n"
                 "redactor.share(); redactor.add('nested-secret-1234', 'NESTED'); redactor.unshare()\n")
        subprocess.run([sys.executable, "-c", child], check=True, env=dict(os.environ), timeout=60)
        assert path.exists(), "a nested gate deleted the file its parent shares"
        assert parent("nested-secret-1234") == "[REDACTED:NESTED]"
    finally:
        parent.unshare()
    assert not path.exists()


def test_a_secret_learned_after_the_pattern_was_built_is_redacted_the_longest_form_first() -> None:
    registry = Redactor()
    registry.add("long-secret-value-1", "TOKEN")
    assert registry("a long-secret-value-1 b") == "a [REDACTED:TOKEN] b"  # the pattern is built now
    for n in range(200):  # a run learning a cookie per request: the pattern is not rebuilt for each
        registry.learn(f"cookie-value-{n:04d}-xyz", "COOKIE_sid")
        assert registry(f"set cookie-value-{n:04d}-xyz") == "set [REDACTED:COOKIE_SID]"
    registry.add("long-secret-value-1-and-more", "LONGER")  # a longer secret holding an older one
    assert registry("x long-secret-value-1-and-more y") == "x [REDACTED:LONGER] y"
    assert registry("x long-secret-value-1 y") == "x [REDACTED:TOKEN] y"


def test_the_compiled_pattern_matches_as_the_longest_first_alternation_would() -> None:
    rng = random.Random(7)
    for _ in range(200):
        words = {"".join(rng.choice("ab.%") for _ in range(rng.randint(1, 6))) for _ in range(rng.randint(1, 12))}
        plain = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
        trie = re.compile(_trie_pattern(words))
        for _ in range(20):
            text = "".join(rng.choice("ab.%c") for _ in range(rng.randint(0, 30)))
            assert trie.sub(lambda m: f"<{m.group(0)}>", text) == plain.sub(lambda m: f"<{m.group(0)}>", text)
