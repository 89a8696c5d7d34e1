"""e2e failures that say why, early: the demo's form-405 fails at once naming the 405 and the alert; a stylesheet
from an origin that cannot be reached is a third-party warning (fatal when the profile says so), never a
console-error failure of a healthy page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from synthgate.demo.server import EmbeddedTarget
from synthgate.e2e.runner import BrowserSession
from synthgate.profile import load_profile
from synthgate.profile.model import Profile


@pytest.fixture(scope="module")
def session() -> Iterator[Any]:
    """One warm browser for this module, as within one e2e stage."""
    with BrowserSession() as browser:
        yield browser


def _only(profile: Profile, journey_id: str, **changes: Any) -> Profile:
    journeys = [j.model_copy(update=changes) for j in profile.journeys if j.id == journey_id]
    return profile.model_copy(update={"journeys": journeys, "e2e": profile.e2e.model_copy(update={"retries": 0})})


def test_form_405_fails_at_once_naming_the_request_and_the_dialog(session: Any, tmp_path: Path) -> None:
    demo, _ = load_profile("demo")
    profile = _only(demo, "intake", a11y=False)
    with EmbeddedTarget(fault="form-405") as target:
        run = session.run(profile, target.url, tmp_path)
    step = run.result("intake.lands-on-dashboard")
    assert step.status == "failed"
    assert "POST /intake answered 405" in step.message and "'Failed to submit'" in step.message
    assert "alert" in step.message
    timeout_ms = demo.e2e.timeout_s * 1000
    assert step.duration_ms < timeout_ms / 2, step.duration_ms  # it did not wait out the 10 s navigation timeout
    # the observation right after it says the same, and stops at the dialog instead of waiting its 3 s
    shows = run.result("intake.dashboard-shows-text")
    assert shows.status == "failed" and "POST /intake answered 405" in shows.message
    assert "stopped at the dialog" in shows.message


class _Page(BaseHTTPRequestHandler):
    """A healthy page whose stylesheet lives on an origin nobody answers on (a CDN on a closed network)."""

    html = (b'<!doctype html><html><head><title>ok</title><link rel="stylesheet" href="http://127.0.0.1:9/cdn.css">'
            b'</head><body><main><h1>All good here</h1></main></body></html>')

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.html)))
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def cdn_page() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _landing_profile(third_party: str) -> Profile:
    return Profile.model_validate({
        "name": "cdn", "health": {"path": "/"}, "e2e": {"retries": 0},
        "journeys": [{"id": "home", "kind": "landing", "path": "/", "expect_text": "All good here", "vitals": None,
                      "a11y": False, "third_party": third_party}],
    })


@pytest.mark.parametrize("mode", ["warn", "fail"])
def test_unreachable_cdn_is_a_third_party_check_not_a_console_error(session: Any, cdn_page: str, tmp_path: Path,
                                                                    mode: str) -> None:
    run = session.run(_landing_profile(mode), cdn_page, tmp_path)
    assert run.result("home.no-console-errors").status == "passed", run.result("home.no-console-errors").message
    assert run.result("home.no-failed-requests").status == "passed"
    third = run.result("home.third-party-requests")
    assert "GET http://127.0.0.1:9/cdn.css failed" in third.message
    if mode == "warn":
        assert third.status == "passed" and third.message.startswith("warning:") and third.details["warning"]
    else:
        assert third.status == "failed"
