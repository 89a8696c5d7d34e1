"""A page whose script never yields cannot hold the gate (issue 23 point 6): the journey fails naming it, within
seconds rather than at its budget, the next journey still runs in the same browser, and the default deadline of
an e2e-only profile is a few minutes. A FIFO as profile is a usage error decided without opening it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from loopback import serve_handler

from synthgate.deadline import default_deadline_s
from synthgate.e2e.plan import journey_budget_s
from synthgate.e2e.runner import HUNG, BrowserSession
from synthgate.profile import ProfileError, load_profile
from synthgate.profile.model import Profile

PAGES = {
    # spins before the load event: the navigation never ends
    "/spin-at-load": b"<!doctype html><html lang=en><title>app</title><body>hello<script>while(true){}</script>",
    # loads, shows its text, then spins: the next evaluation in the page never answers
    "/spin-later": (b"<!doctype html><html lang=en><title>app</title><body><main><h1>hello</h1></main>"
                    b"<script>addEventListener('load', () => setTimeout(() => { while (true) {} }, 300));</script>"),
    "/fine": b"<!doctype html><html lang=en><title>fine</title><body><main><h1>all good</h1></main>",
}


class _Pages(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = PAGES.get(self.path, b"")
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serve_handler(_Pages) as url:
        yield url


@pytest.fixture(scope="module")
def session() -> Iterator[Any]:
    with BrowserSession() as browser:
        yield browser


def _profile(tmp_path: Path, journeys: str) -> Profile:
    path = tmp_path / "spin.yaml"
    path.write_text(f"name: spin\nhealth: {{path: /fine}}\njourneys:\n{journeys}", encoding="utf-8")
    return load_profile(str(path))[0]


def test_a_page_spinning_before_load_fails_fast_and_the_next_journey_still_runs(session: Any, site: str,
                                                                                tmp_path: Path) -> None:
    profile = _profile(tmp_path, "  - {id: spin, kind: landing, path: /spin-at-load, expect_text: hello}\n"
                                 "  - {id: fine, kind: landing, path: /fine, expect_text: all good, vitals: null}\n")
    started = time.monotonic()
    run = session.run(profile, site, tmp_path / "reports")
    took = time.monotonic() - started
    loads = run.result("spin.loads")
    assert loads.status == "failed" and HUNG in loads.message, loads.message
    assert loads.attempts == 1  # never retried: a page that spins spins again
    assert run.result("spin.shows-text").status == "skipped"
    assert run.result("fine.shows-text").status == "passed"  # the spinning renderer was ended, the browser lives
    # found by watching the navigation, long before its 15 s timeout and the journey's budget
    assert loads.duration_ms < 12_000, loads.duration_ms
    assert took < journey_budget_s(profile, profile.journeys[0]) / 2, took


def test_a_page_spinning_after_load_fails_at_the_next_evaluation(session: Any, site: str, tmp_path: Path) -> None:
    profile = _profile(tmp_path, "  - {id: later, kind: landing, path: /spin-later, expect_text: hello,"
                                 " settle_ms: 800}\n")
    started = time.monotonic()
    run = session.run(profile, site, tmp_path / "reports")
    failed = [r for r in run.results.values() if r.status == "failed"]
    assert failed and all(HUNG in r.message for r in failed), [r.message for r in failed]
    assert time.monotonic() - started < 30


def test_an_e2e_only_profile_has_a_deadline_of_a_few_minutes(tmp_path: Path) -> None:
    profile = _profile(tmp_path, "  - {id: landing, kind: landing, path: /, expect_text: hello}\n")
    assert default_deadline_s(profile, ["e2e"]) <= 300


def test_a_fifo_as_profile_is_refused_without_opening_it(tmp_path: Path, cli: Any) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # nobody writes it: opening it for reading would block forever
    with pytest.raises(ProfileError, match="fifo.yaml.*FIFO"):
        load_profile(str(fifo))
    started = time.monotonic()
    result = cli("run", "--profile", str(fifo), "--no-rollback", timeout=30)
    assert result.returncode == 2, result.stderr
    assert "fifo.yaml" in result.stderr and time.monotonic() - started < 10


def test_a_device_as_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="character device"):
        load_profile("/dev/zero")
