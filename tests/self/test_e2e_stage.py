"""The e2e stage in a real Chromium: the healthy demo passes, browser faults close the gate with evidence,
no flake over ten runs, no browser means the install hint, and secrets never reach an artefact."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import soak
import yaml
from verdicts import read_verdict

from synthgate.e2e import plan_all
from synthgate.e2e.runner import BrowserSession, run_journeys
from synthgate.profile import load_profile

ROOT = Path(__file__).resolve().parents[2]


# what a loaded machine makes slow: a timing budget over, or a browser action past its timeout
TIMING_BUDGET = re.compile(r"^[\w-]+\.(inp|fcp|lcp)-budget: |Timeout \d+ms exceeded")


def _verdict(reports: Path) -> dict[str, Any]:
    return read_verdict(reports)


def _stage(verdict: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in verdict["stages"] if s["name"] == name)


def test_healthy_demo_passes_smoke_and_e2e_with_one_check_per_journey_step(cli: Any, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = cli("run", "--stages", "smoke,e2e", "--reports", str(reports))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    verdict = _verdict(reports)
    e2e = _stage(verdict, "e2e")
    profile, _ = load_profile("demo")
    journeys = [c["id"] for c in e2e["checks"] if not c["id"].startswith("hygiene:")]
    assert journeys == [s.check_id for s in plan_all(profile)]
    # then hygiene over every answer the journeys got (issue 23)
    assert [c["id"] for c in e2e["checks"] if c["id"].startswith("hygiene:")] == [
        "hygiene:cookie-secure:journeys", "hygiene:cookie-httponly:journeys", "hygiene:cookie-samesite:journeys",
        "hygiene:cache-private:journeys"]
    # this tier shares two cores with three other workers: a timing budget (INP, FCP, LCP) or an action timeout
    # that was over once and then held is a flaky pass, allowed here; the serial tier's rounds on a quiet machine
    # allow no flake at all
    not_clean = {c["id"]: (c["status"], c["message"], c["details"].get("first_failure"))
                 for c in e2e["checks"] if c["status"] != "passed"
                 or (c["flaky"] and not TIMING_BUDGET.search(c["details"].get("first_failure", "")))}
    assert e2e["status"] == "passed" and not not_clean, not_clean
    vitals = next(c for c in e2e["checks"] if c["id"] == "landing.fcp-budget")["details"]
    assert 0 < vitals["fcp"] < vitals["fcp_budget"]
    assert "intake.lands-on-dashboard" in result.stdout
    artefacts = reports / "e2e"
    assert not [p for p in artefacts.glob("*") if p.suffix in (".png", ".zip")] if artefacts.exists() else True


@pytest.mark.parametrize(("fault", "failing", "journeys"), [
    ("toggle-broken", ["toggle.switches-to-zh", "toggle.sets-html-lang-zh", "toggle.stores-language-zh",
                       "intake-toggle.switches-to-zh"], {"toggle", "intake-toggle"}),
    ("intake-broken", ["intake.lands-on-dashboard"], {"intake"}),
    # the toggle journey opens the same landing page: every page a journey visits is watched (issue 23)
    ("console-error", ["landing.no-console-errors", "landing.no-uncaught-errors", "toggle.loads"],
     {"landing", "toggle"}),
], ids=["toggle-broken", "intake-broken", "console-error"])
def test_browser_fault_fails_the_gate_naming_the_step_with_evidence(cli: Any, tmp_path: Path, fault: str,
                                                                    failing: list[str], journeys: set[str]) -> None:
    reports = tmp_path / "reports"
    # one fault goes through the rollback and its re-verification by the journeys; the others stop at the verdict
    verify_rollback = fault == "toggle-broken"
    result = cli("run", "--stages", "e2e", "--demo-fault", fault, "--reports", str(reports),
                 *([] if verify_rollback else ["--no-rollback"]))
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    verdict = _verdict(reports)
    assert verdict["verdict"] == "fail"
    assert verdict["rollback"]["triggered"] is verify_rollback
    assert verdict["rollback"]["verified"] is (True if verify_rollback else None)
    failed = {c["id"]: c for c in _stage(verdict, "e2e")["checks"] if c["status"] == "failed"}
    for check_id in failing:
        assert check_id in failed, sorted(failed)
        assert check_id in result.stdout
    first = failed[failing[0]]
    assert first["attempts"] == 2  # retried once in a fresh context before it counted
    kinds = {Path(e).suffix: reports / e for e in first["evidence"]}
    assert set(kinds) == {".png", ".zip", ".log", ".har"}
    assert json.loads(kinds[".har"].read_text(encoding="utf-8"))["log"]["entries"]  # the browser's exchanges
    assert kinds[".png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with zipfile.ZipFile(kinds[".zip"]) as trace:
        assert "trace.trace" in trace.namelist()
    assert all(e.startswith("har/" if e.endswith(".har") else "e2e/") for c in failed.values() for e in c["evidence"])
    assert f"]({first['evidence'][0]})" in (reports / "summary.md").read_text(encoding="utf-8")
    # other journeys pass: the failure is pinned to the broken journey, not smeared over the stage
    assert {c.split(".")[0] for c in failed} == journeys


def test_healthy_target_passes_the_journeys_round_after_round(demo_target: Any, tmp_path: Path) -> None:
    profile, _ = load_profile("demo")
    expected = [s.check_id for s in plan_all(profile)]
    with BrowserSession() as session:  # one warm browser, as within one stage run; a fresh context per journey
        for n in range(soak.rounds(full=10, quick=3)):
            run = session.run(profile, demo_target.url, tmp_path)
            trouble = {c: (r.status, r.message, r.details.get("first_failure")) for c, r in run.results.items()
                       if r.status != "passed" or r.flaky or r.attempts != 1}
            assert not trouble, f"run {n + 1}: {trouble}"
            assert sorted(run.results) == sorted(expected)
    assert not (tmp_path / "e2e").exists() or not any((tmp_path / "e2e").iterdir())


def test_no_chromium_fails_the_stage_with_the_install_hint(cli: Any, tmp_path: Path) -> None:
    empty = tmp_path / "no-browsers-here"
    empty.mkdir()
    reports = tmp_path / "reports"
    env = {"SYNTHGATE_CHROMIUM_SEARCH_PATH": str(empty), "SYNTHGATE_CHROMIUM": ""}
    result = cli("run", "--stages", "e2e", "--reports", str(reports), env=env)
    verdict = _verdict(reports)
    stage = _stage(verdict, "e2e")
    assert stage["status"] == "failed"
    (check,) = stage["checks"]
    assert check["id"] == "e2e.browser" and check["status"] == "failed"
    for hint in ("apt-get install chromium", "playwright install chromium", str(empty)):
        assert hint in check["message"]
    # nobody looked at the deployment: the gate stays closed (never a pass) without rolling it back
    assert result.returncode == 4 and verdict["verdict"] == "inconclusive"
    assert verdict["rollback"]["triggered"] is False
    assert "apt-get install chromium" in result.stdout + (reports / "summary.md").read_text(encoding="utf-8")


SECRET = "Tr0ub4dor&3-synthgate-e2e-secret"
MARKER = "hdr-marker-6d1f0c2e9a"


def _all_forms(value: str) -> list[bytes]:
    forms = {value, json.dumps(value)[1:-1], quote(value, safe=""), quote_plus(value), value.replace("&", "&amp;")}
    return [f.encode() for f in forms]


def _blobs(folder: Path) -> Iterator[tuple[str, bytes]]:
    """Every file under `folder`, and every member of every zip in it."""
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        yield str(path), data
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    yield f"{path}!{name}", zf.read(name)


def test_secrets_never_reach_traces_logs_or_reports(cli: Any, tmp_path: Path) -> None:
    profile = {
        "name": "secret-journey",
        "embedded_demo": True,
        "headers": {"X-Synthetic-Check": "synthgate ${secrets.marker}"},
        "secrets": {"password": {"env": "SG_E2E_PASSWORD"}, "marker": {"env": "SG_E2E_MARKER"}},
        "health": {"path": "/v1/health"},
        "e2e": {"retries": 0, "expect_timeout_s": 1, "trace": "on-failure"},
        "journeys": [{"id": "login", "steps": [
            {"goto": "/intake"},
            {"fill": {"#user_background": "${secrets.password}", "#target_reason": "pw ${secrets.password} end",
                      "#user_email": "ops@synthgate.dev"}},
            {"id": "submits", "click": "#submit"},  # posts the secret: it is in the trace's network log too
            {"id": "shows-error", "expect_text": {"#form-error": "must not be empty"}},
            {"id": "sees-welcome", "expect_text": "Welcome back"},  # fails: evidence is written
        ]}],
    }
    path = tmp_path / "secret.yaml"
    path.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    reports = tmp_path / "reports"
    result = cli("run", "--profile", str(path), "--stages", "e2e", "--reports", str(reports),
                 env={"SG_E2E_PASSWORD": SECRET, "SG_E2E_MARKER": MARKER})
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    checks = {c["id"]: c for c in _stage(_verdict(reports), "e2e")["checks"]}
    assert checks["login.shows-error"]["status"] == "passed"  # the secret really was typed and sent
    assert checks["login.sees-welcome"]["status"] == "failed"
    traces = list((reports / "e2e").glob("*.zip"))
    assert traces, "a failed journey keeps its trace"
    for value in (SECRET, MARKER):
        forms = _all_forms(value)
        assert not [f for f in forms if f in (result.stdout + result.stderr).encode()]
        for name, blob in _blobs(reports):
            assert not [f for f in forms if f in blob], f"{value!r} leaked into {name}"
        assert not [p for p in reports.rglob("*") if value in p.name]
    with zipfile.ZipFile(traces[0]) as zf:
        trace = zf.read("trace.trace")
        names = zf.namelist()
    assert b"[REDACTED:SG_E2E_PASSWORD]" in trace and b'"fill"' in trace  # recorded, then scrubbed
    assert not [n for n in names if n.startswith("screencast/")]  # pixels cannot be scrubbed: none recorded


VARIANT_PAGES = {
    "index.html": """<!doctype html><html><head><meta charset="utf-8"><title>Variant</title></head><body>
<button id="lang-en">EN</button><button id="lang-zh">中文</button>
<h1 data-en="Hello" data-zh="你好">Hello</h1><p data-en="Plain words" data-zh="平实的话">Plain words</p>
<p id="spa"></p><a id="go" href="/form.html">form</a>
<script>
const KEY = "variant_language";
function render(lang) {
  document.querySelectorAll("[data-en]").forEach((el) => { el.textContent = el.getAttribute("data-" + lang); });
  // a single-page app renders this one late, without data-* attributes
  setTimeout(() => { document.getElementById("spa").textContent = lang === "zh" ? "欢迎光临" : "Welcome in"; }, 150);
}
document.getElementById("lang-en").onclick = () => { render("en"); localStorage.setItem(KEY, "en"); };
document.getElementById("lang-zh").onclick = () => { render("zh"); localStorage.setItem(KEY, "zh"); };
render(localStorage.getItem(KEY) || "en");
</script></body></html>""",
    "form.html": """<!doctype html><html><head><meta charset="utf-8"><title>Form</title></head><body>
<form id="f"><input id="name"><select id="plan"><option value="free">Free</option><option value="pro">Pro</option>
</select><label><input id="terms" type="checkbox"> terms</label><button id="send" disabled>Send</button></form>
<p id="err"></p>
<script>
const f = document.getElementById("f"), send = document.getElementById("send");
const sync = () => { send.disabled = !document.getElementById("name").value; };
document.getElementById("name").addEventListener("input", sync);
f.addEventListener("submit", (e) => {
  e.preventDefault();
  if (!document.getElementById("terms").checked) {
    document.getElementById("err").textContent = "Accept the terms";
    return;
  }
  location.href = "/done.html?plan=" + document.getElementById("plan").value;
});
</script></body></html>""",
    "done.html": """<!doctype html><html><body><h1 id="done">Thanks</h1>
<script>alert("Saved");  // blocks the page until the runner dismisses it
const plan = new URLSearchParams(location.search).get("plan");
document.getElementById("done").textContent += " for choosing " + plan;
</script></body></html>""",
}


MARKED: list[str] = []  # the synthetic-traffic header of every request the variant site received


@pytest.fixture
def variant_site(tmp_path: Path) -> Iterator[str]:
    """A static site on loopback whose toggle and form differ from the demo's; it records the marker header."""
    site = tmp_path / "site"
    site.mkdir()
    for name, text in VARIANT_PAGES.items():
        (site / name).write_text(text, encoding="utf-8")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            MARKED.append(str(self.headers.get("X-Synthetic-Check")))

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_journey_variants_without_code(variant_site: str, tmp_path: Path) -> None:
    """Per-language buttons, a custom storage key, no <html lang>, SPA texts; a form with a select and a
    checkbox whose button unlocks once filled; free steps."""
    journeys = [
        {"id": "toggle", "kind": "toggle", "path": "/index.html", "buttons": {"en": "#lang-en", "zh": "#lang-zh"},
         "storage_key": "variant_language", "html_lang": False,
         "a11y": False,  # the variant page lacks <html lang> on purpose; accessibility has its own tests
         "texts": {"#spa": {"en": "Welcome in", "zh": "欢迎光临"}}},
        {"id": "signup", "kind": "form", "path": "/form.html", "submit": "#send", "a11y": False,
         "fields": {"#name": "${vars.who}", "#plan": "Pro", "#terms": True},
         "destination": {"name": "thanks", "url": r"/done\.html\?plan=pro$", "texts": {"#done": "choosing pro"}},
         "invalid": {"fields": {"#name": "Ada"}, "error": {"#err": "Accept the terms"}}},
        {"id": "walk", "a11y": False, "steps": [
            {"goto": "/index.html"}, {"click": "#lang-zh"}, {"expect_storage": {"variant_language": "zh"}},
            {"id": "follows-link", "click": "#go"}, {"expect_url": r"/form\.html$"}, {"expect_title": "^Form$"},
            {"expect_no_text": "Thanks"}, {"expect_no_console_errors": True}, {"expect_vitals": {"lcp_ms": None}}]},
    ]
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump({"name": "variant", "vars": {"who": "Ada"}, "journeys": journeys,
                                    "e2e": {"parallel": 3, "retries": 0, "expect_timeout_s": 2}},
                                   allow_unicode=True), encoding="utf-8")
    profile, _ = load_profile(str(path))
    MARKED.clear()
    run = run_journeys(profile, variant_site, tmp_path / "reports")
    bad = {c: r.message for c, r in run.results.items() if r.status != "passed"}
    assert not bad
    assert sorted(run.results) == sorted(s.check_id for s in plan_all(profile))
    assert "sets-html-lang-zh" not in " ".join(run.results)  # html_lang: false drops that step
    assert run.results["signup.lands-on-thanks"].details["url"].endswith("/done.html?plan=pro")
    assert MARKED and set(MARKED) == {"synthgate"}  # the browser's own traffic is marked as synthetic too


def test_user_pytest_playwright_tests_run_in_synthgates_chromium(demo_target: Any, tmp_path: Path) -> None:
    """A plain pytest-playwright test beside the journeys gets the discovered Chromium and the target URL."""
    suite = tmp_path / "e2e"
    suite.mkdir()
    shutil.copy(ROOT / "tests" / "e2e" / "conftest.py", suite / "conftest.py")
    (suite / "test_mine.py").write_text(
        "def test_landing_title(page, sg_target):\n"
        "    page.goto(sg_target + '/')\n"
        "    assert page.title() == 'synthgate demo'\n"
        "    page.click('#lang-toggle')\n"
        "    assert page.evaluate('localStorage.getItem(\"language\")') == 'zh'\n", encoding="utf-8")
    env = {**os.environ, "PLAYWRIGHT_BROWSERS_PATH": str(tmp_path / "no-playwright-browsers")}
    proc = subprocess.run([sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:cacheprovider",
                           "--profile", "demo", "--base-url", demo_target.url, "--rootdir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, env=env, cwd=str(ROOT), check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout
