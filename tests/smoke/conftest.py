"""The smoke suite's fixtures: cold-start checks run before the warm checks.

Every check kind's fixture (`health_check`, `cold_endpoint`, `forged_check`...) is parametrised by synthgate's
plugin from synthgate.checks.registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthgate.checks import cold, seen


def _rank(item: pytest.Item) -> int:
    callspec = getattr(item, "callspec", None)
    endpoint = callspec.params.get("cold_endpoint") if callspec is not None else None
    if not isinstance(endpoint, cold.ColdEndpoint):  # a warm check, or an empty parameter set (no endpoint at all)
        return 1
    # an endpoint with a safe wake-up request is touched first; one only a check's own (unsafe) request
    # reaches is judged last, on the sample that check's request left
    return 0 if endpoint.probe is not None else 2


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Cold-start checks first (they make each endpoint's first contact), warm checks after."""
    items.sort(key=_rank)  # stable: the warm checks keep their order


@pytest.fixture(scope="session")
def cold_ledger(sg_target: str, sg_reports_dir: Path) -> Path | None:
    """The run's cold-start ledger: the gate's (it holds the preflight's first contact), or this session's own."""
    if cold.active() is None:  # the suite run alone, without the gate: this session is the run
        cold.begin(sg_reports_dir, sg_target)
    cold.observed_by("the smoke suite")
    return cold.active()


@pytest.fixture(autouse=True)
def _seen_source(request: pytest.FixtureRequest):  # noqa: ANN202 - a generator fixture
    """The answers this test's requests get are recorded (for hygiene) as seen by its check."""
    callspec = getattr(request.node, "callspec", None)
    with seen.source(f"smoke check {callspec.id}" if callspec is not None else f"smoke {request.node.name}"):
        yield
