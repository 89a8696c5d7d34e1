"""Fuzzing covers before it samples: the coverage phase sends each boundary and class of every field once, in
the same order every run; it runs concurrently, so a target 100 ms away still gets it; every distinct failure
is reported with its own shrunk curl repro; the demo's long-field-crash is found by the huge_length class."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthgate.demo.server import EmbeddedTarget
from synthgate.fuzz import coverage, strategies
from synthgate.fuzz.strategies import Probe
from synthgate.profile import load_profile
from synthgate.profile.fuzz import FuzzEndpoint
from synthgate.stage_options import StageOptions
from synthgate.stages import fuzz as fuzz_stage
from synthgate.stages.base import StageContext

ENDPOINT = FuzzEndpoint.model_validate({
    "method": "POST", "path": "/api/things",
    "body": {"name": {"min_length": 2, "max_length": 20}, "count": {"type": "integer", "minimum": 1, "maximum": 9},
             "kind": {"enum": ["a", "b"]}},
})


def test_every_field_gets_each_boundary_and_class_once_in_a_fixed_order() -> None:
    first = coverage.probes(ENDPOINT, 12_000)
    again = coverage.probes(ENDPOINT, 12_000)
    assert [(p.label, p.body) for p in first] == [(p.label, p.body) for p in again]  # deterministic
    by_field: dict[str, list[str]] = {}
    for p in first:
        by_field.setdefault(p.target, []).append(p.input_class)
    for name in ("name", "count", "kind"):
        classes = by_field[name]
        assert len(classes) == len(set(classes)), name  # each class once
        assert {"missing", "null", "wrong_type:integer" if name != "count" else "wrong_type:string"} <= set(classes)
    assert {"min_length-1", "min_length", "max_length", "max_length+1", "empty", "huge_length",
            "unicode:emoji", "unicode:lone surrogate"} <= set(by_field["name"])
    assert {"minimum-1", "minimum", "maximum", "maximum+1", "not_an_integer"} <= set(by_field["count"])
    assert "not_in_enum" in by_field["kind"]
    whole = set(by_field[""])
    assert {"valid", "empty_body", "empty_object", "malformed:trailing comma", "content_type:text/plain"} <= whole
    huge = next(p for p in first if p.target == "name" and p.input_class == "huge_length")
    assert len(json.loads(huge.body)["name"]) == 12_000 and huge.kind == "invalid"
    # every other field keeps its minimal valid value, so a failure names its one cause
    assert json.loads(first[0].body) == {"name": "aa", "count": 1, "kind": "a"}
    edge = next(p for p in first if p.target == "count" and p.input_class == "maximum+1")
    assert json.loads(edge.body) == {"name": "aa", "count": 10, "kind": "a"}


def test_a_length_failure_shrinks_to_the_shortest_failing_length() -> None:
    probe = next(p for p in coverage.probes(ENDPOINT, 20_000) if p.input_class == "huge_length")
    calls: list[int] = []

    def fails(candidate: Probe) -> bool:  # a server that crashes above 5,000 characters
        calls.append(len(candidate.data["name"]))
        return len(candidate.data["name"]) > 5000

    shrunk = coverage.shrink_length(probe, fails, floor=0)
    assert len(shrunk.data["name"]) == 5001 and len(json.loads(shrunk.body)["name"]) == 5001
    assert len(calls) <= 16  # bisection, not a walk


class _Buggy(BaseHTTPRequestHandler):
    """Two different defects behind one endpoint, and 100 ms of latency on every answer."""

    delay_s = 0.1

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        time.sleep(self.delay_s)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            return self._send(400, {"error": "bad json"})
        name, count = data.get("name"), data.get("count")
        if isinstance(name, str) and len(name) > 3000:
            return self._send(500, {"error": "boom"})  # defect 1: long strings
        if isinstance(count, bool):
            return self._send(502, {"error": "bad gateway"})  # defect 2: a boolean count
        ok = isinstance(name, str) and 2 <= len(name) <= 20 and type(count) is int and 1 <= count <= 9 \
            and data.get("kind") in ("a", "b")
        return self._send(200 if ok else 400, {"ok": True} if ok else {"error": "invalid"})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def slow_buggy() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Buggy)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _run_fuzz(tmp_path: Path, fuzz: dict[str, Any], url: str) -> Any:
    doc = {"name": "cov", "health": {"path": "/"}, "fuzz": fuzz}
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    profile, resolved = load_profile(str(path))
    ctx = StageContext(profile=profile, profile_path=resolved, base_url=url, reports_dir=tmp_path / "reports",
                       progress=lambda _: None, options=StageOptions(seed=7))
    return fuzz_stage.run(ctx)


def test_concurrent_coverage_reports_every_distinct_failure_on_a_slow_target(slow_buggy: str,
                                                                              tmp_path: Path) -> None:
    endpoint = {"id": "things", **json.loads(ENDPOINT.model_dump_json(exclude_none=True)), "success": [200]}
    fuzz = {"endpoints": [endpoint], "allow_writes": True, "max_examples": 5, "max_time_s": 60, "max_rps": 500,
            "concurrency": 8, "latency_ms": 5000}
    result = _run_fuzz(tmp_path, fuzz, slow_buggy)
    (check,) = result.checks
    assert check.status == "failed"
    cov = check.details["coverage"]
    assert cov["complete"] and cov["sent"] == cov["cases"] == len(coverage.probes(ENDPOINT, 20_000))
    # ~70 cases at 100 ms each: one at a time that is 7 s; eight at a time well under half of it
    assert cov["seconds"] < cov["cases"] * 0.1 / 2, cov
    failures = check.details["failures"]
    found = {(f["status"], f["input_class"]) for f in failures}
    assert (500, "huge_length") in found and (502, "wrong_type:boolean") in found, found
    long = next(f for f in failures if f["input_class"] == "huge_length")
    assert '"name": "' + "A" * 3001 + '"' in long["curl"] and "A" * 3002 not in long["curl"]  # shrunk
    assert len({f["curl"] for f in failures}) == len(failures)  # each its own repro
    assert "distinct failure(s)" in check.message and check.message.count("reproduce: curl") == len(failures)


def test_demo_long_field_crash_is_found_by_the_huge_length_class(tmp_path: Path) -> None:
    demo, _ = load_profile("demo")
    assert demo.fuzz is not None
    intake = next(e for e in demo.fuzz.endpoints if e.key == "intake")
    fuzz = {"endpoints": [json.loads(intake.model_dump_json(exclude_none=True))], "allow_writes": True,
            "max_examples": 1, "max_time_s": 30, "max_rps": 2000}
    with EmbeddedTarget(fault="long-field-crash") as target:
        result = _run_fuzz(tmp_path, fuzz, target.url)
    (check,) = result.checks
    assert check.status == "failed", check.message
    (failure,) = check.details["failures"]  # one defect, however many fields show it
    assert failure["input_class"] == "huge_length" and failure["status"] == 500 and failure["phase"] == "coverage"
    assert "5001-character string" in failure["message"]


def test_an_empty_path_segment_is_never_sent_as_an_input_of_the_route() -> None:
    """`GET /api/campaign/` is another route than `/api/campaign/{id}` (a static fallback may answer it 200)."""
    endpoint = FuzzEndpoint.model_validate({"method": "GET", "path": "/api/campaign/{id}",
                                            "path_params": {"id": {"min_length": 1, "max_length": 40}}})
    sent = [p for p in coverage.probes(endpoint, 2_000) if p.target == "id"]
    assert sent and all(not p.path.endswith("/api/campaign/") for p in sent)
    assert {"max_length+1", "huge_length", "unicode:emoji"} <= {p.input_class for p in sent}


@settings(max_examples=300, database=None, suppress_health_check=list(HealthCheck), deadline=None)
@given(data=st.data())
def test_the_random_phase_never_sends_an_empty_path_segment_either(data: st.DataObject) -> None:
    # the real-apps false alarm came back from the random phase (min_length-1 of a path id is ""): every
    # strategy of a path parameter (valid, invalid, edge) fills each segment
    endpoint = FuzzEndpoint.model_validate({"method": "GET", "path": "/api/campaign/{id}/page/{n}",
                                            "path_params": {"id": {"min_length": 1, "max_length": 40},
                                                            "n": {"type": "integer"}}})
    valid, invalid, edge = strategies.param_cases(endpoint, 2_000)
    assert invalid is not None
    kind, label, path_values, _, _ = data.draw(st.one_of(valid, invalid, edge))
    path = strategies.fill_path(endpoint.path, path_values)
    assert "//" not in path and not path.endswith("/"), (kind, label, path)
