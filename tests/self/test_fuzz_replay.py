"""A fuzz test whose replay breaks a property at another step than its first run (a stateful flow on a busy
machine): real Hypothesis, through the engine's own `run_seeded` and `report`."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthgate.fuzz import findings, random_phase
from synthgate.fuzz.properties import Violation
from synthgate.fuzz.report import report
from synthgate.http import Exchange

BASE = "http://127.0.0.1:9"


class Recorded:
    """The fields a check's result got (the `sg` fixture's part `report` uses)."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}

    def set(self, **values: Any) -> None:
        self.fields.update(values)


def run_failing_earlier_on_replay(prop: str) -> tuple[findings.TestRun, BaseException | None]:
    """A test whose first failure comes after five draws and every later one after the first: Hypothesis calls
    that inconsistent data generation, as it does for a flow slow at step 5, then at step 1 of the replay."""
    far = time.monotonic() + 60
    run = findings.TestRun(check_id="fuzz.flow.quota", deadline=far, shrink_deadline=far, seed=3)
    calls = {"failed": 0}
    request = httpx.Request("POST", f"{BASE}/api/generate")
    exchange = Exchange("POST", f"{BASE}/api/generate", {}, b"{}",
                        response=httpx.Response(200 if prop == "latency" else 500, request=request),
                        duration_ms=900.0)

    @random_phase.settings_for(50)
    @given(st.data())
    def test(data: st.DataObject) -> None:
        random_phase.count_example(run)
        steps = 5 if not calls["failed"] else 1
        for _ in range(steps):
            data.draw(st.integers(0, 3))
        calls["failed"] += 1
        random_phase.expect(run, [Violation(prop, "seen")], exchange, "answered", BASE)

    return run, random_phase.run_seeded(test, run)


def test_a_latency_only_failure_at_another_step_on_replay_is_intermittent_not_a_tool_error() -> None:
    run, outcome = run_failing_earlier_on_replay("latency")
    sg = Recorded()
    report(run, outcome, sg, None)  # passes: no pytest.fail
    assert sg.fields["flaky"] is True and sg.fields.get("kind") != "error", sg.fields
    assert sg.fields["details"]["intermittent_properties"] == ["latency"]


def test_a_wrong_answer_at_another_step_on_replay_fails_as_broken() -> None:
    run, outcome = run_failing_earlier_on_replay("status")
    sg = Recorded()
    with pytest.raises(pytest.fail.Exception, match="property status broken"):
        report(run, outcome, sg, None)
    assert sg.fields["kind"] == "assertion", sg.fields
