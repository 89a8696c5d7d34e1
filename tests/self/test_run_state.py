"""State is the run's, not the module's: two runs (two RunStates, two in-process gates) share no 5xx tally, no
cold-start ledger memory and no transport listener; template expansion resolves against the values it is given."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from loopback import StatusHandler, serve_handler

from synthgate import http, run_context, run_state, server_errors
from synthgate.checks import cold
from synthgate.gate import GateOptions, run_gate
from synthgate.profile.model import Profile, Request
from synthgate.reports import har


@pytest.fixture(scope="module")
def url() -> object:
    with serve_handler(StatusHandler) as base:
        yield base


def _listeners(kind: type) -> int:
    return len(http.events()._listeners.get(kind, []))


def test_two_runs_count_their_own_5xx_and_keep_their_own_listeners(url: str) -> None:
    profile = Profile.model_validate({"name": "t"})
    first, second = run_state.RunState("first"), run_state.RunState("second")
    with http.make_client(profile) as client:
        with run_state.running(first):
            server_errors.listen()
            http.send_raw(client, "GET", url + "/down")
            http.send_raw(client, "GET", url + "/")
        with run_state.running(second):
            assert _listeners(http.Exchanged) == 0  # the first run's listener is not the second's
            server_errors.listen()
            http.send_raw(client, "GET", url + "/")
        with run_state.running(first):
            http.send_raw(client, "GET", url + "/down")  # the first run again: counted there only
    one, two = first.get(server_errors.TALLY).take(), second.get(server_errors.TALLY).take()
    assert (one.sent, one.server_errors) == (3, 2)
    assert (two.sent, two.server_errors) == (1, 0)
    assert first.get(http.EVENTS) is not second.get(http.EVENTS)


def test_two_runs_keep_their_own_cold_ledger_memory(url: str, tmp_path: Path) -> None:
    profile = Profile.model_validate({"name": "t"})
    opened = run_context.open_context(tmp_path / "ctx")
    try:
        with http.make_client(profile) as client:
            with run_state.running(run_state.RunState("first")) as first:
                cold.listen()
                ledger = cold.begin(tmp_path / "a", url)
                assert http.send_raw(client, "GET", url + "/one").cold is True
                assert http.send_raw(client, "GET", url + "/one").cold is False  # warm now
            with run_state.running(run_state.RunState("second")) as second:
                ledger.write_text("", encoding="utf-8")  # the same ledger, emptied: a new run's
                ex = http.send_raw(client, "GET", url + "/one")
                assert ex.cold is False  # no listener of this run: nothing recorded
                cold.listen()
                # the first run's memory (it knew /one was recorded) does not hold this run back
                assert http.send_raw(client, "GET", url + "/one").cold is True
        assert first.get(cold.MEMORY).owner is not None and second.get(cold.MEMORY).owner is None
        assert list(cold.read(ledger)) == ["/one"]
    finally:
        run_context.close_context(opened)


def test_two_in_process_gates_share_no_tally_ledger_or_listener(url: str, tmp_path: Path) -> None:
    def profile(health: str) -> str:
        path = tmp_path / f"{health.strip('/')}.yaml"
        path.write_text(yaml.safe_dump({"name": "t", "health": {"path": health}}), encoding="utf-8")
        return str(path)

    outer = run_state.current()
    before = _listeners(http.Exchanged), _listeners(http.Unauthorized)
    verdicts = []
    for health, folder in (("/down", "a"), ("/up", "b")):
        verdicts.append(run_gate(GateOptions(profile=profile(health), base_url=url, stages=[],
                                             reports_dir=tmp_path / folder, no_rollback=True,
                                             progress=lambda _text: None)))
    down, up = (v.stages[-1].checks[0].details for v in verdicts)
    sent = down["counted"]["sent"]
    assert sent >= 1 and down["counted"]["server_errors"] == sent  # the first gate's requests got 503s
    assert up["counted"] == {"sent": sent, "server_errors": 0}  # the second counts its own requests only
    assert verdicts[0].verdict == "fail" and verdicts[1].verdict == "pass"
    # each gate's cold ledger holds its own first contact, made by the gate itself
    for folder, endpoint in (("a", "/down"), ("b", "/up")):
        samples = cold.read(tmp_path / folder / ".work" / "cold.jsonl")
        assert list(samples) == [endpoint] and samples[endpoint]["by"].startswith("the gate itself")
    assert run_state.current() is outer  # the gates left their runs
    assert (_listeners(http.Exchanged), _listeners(http.Unauthorized)) == before  # and their subscriptions


def test_template_expansion_resolves_against_the_values_it_is_given() -> None:
    profile = Profile.model_validate({"name": "t", "secrets": {"token": {"env": "SG_TEST_TOKEN"}},
                                      "vars": {"v": "x"}})
    learned: list[tuple[str, str]] = []
    values = http.TemplateValues(auth={"jwt": "J"}.get, environ={"SG_TEST_TOKEN": "s3cret", "HOME_X": "h"},
                                 learn=lambda value, name: learned.append((value, name)))
    out = http.expand("${auth.jwt} ${secrets.token} ${env.HOME_X} ${vars.v}", profile, None, values)
    assert out == "J s3cret h x" and ("s3cret", "SG_TEST_TOKEN") in learned
    with pytest.raises(http.TemplateError):  # the run's own session has no such value
        http.expand("${auth.jwt}", profile, None, http.TemplateValues(auth=lambda _n: None, environ={},
                                                                      learn=lambda *_a: None))


def test_a_checks_har_holds_what_it_sent_and_what_it_kept(url: str, tmp_path: Path) -> None:
    profile = Profile.model_validate({"name": "t"})
    collector = har.Collector()
    with run_state.running(run_state.RunState("har")), http.make_client(profile) as client:
        cached = http.send_raw(client, "GET", url + "/cached")  # before the check: an answer from a cache
        http.events().subscribe(http.Exchanged, collector)
        sent = http.send(client, url, profile, Request(path="/down"))
    assert collector.seen == [sent]
    assert har.chosen(collector.seen, [cached, sent]) == [sent, cached]
    many = [object() for _ in range(5)]
    assert har.chosen(many, [many[4]], limit=2) == [many[0], many[4]]  # past the cap: the kept one stays
    saved = collector.write(tmp_path, "check-x", [sent])
    assert saved == "har/check-x.har" and "/down" in (tmp_path / saved).read_text(encoding="utf-8")
