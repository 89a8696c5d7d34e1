"""Wiring of the fuzz suite: the plan from the profile, one paced environment per run, and Hypothesis' own
files kept out of the project (never a .hypothesis/ folder in it).

Run it alone with `pytest tests/fuzz --profile demo` (starts the embedded demo target) or against any
deployment with `--base-url URL`; `--synthgate-options '{"seed": 1, "max_examples": 50}'` bounds it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synthgate.checks import seen
from synthgate.fuzz import plan
from synthgate.fuzz.engine import FuzzEnv
from synthgate.fuzz.random_phase import hypothesis_home
from synthgate.plugin import sg_profile_of, stage_options_of, target_url
from synthgate.stage_options import StageOptions

_PLAN = pytest.StashKey[list[plan.FuzzItem]]()
FIXTURES = {"fuzz_endpoint": "endpoint", "fuzz_operation": "openapi", "fuzz_flow": "flow"}


def pytest_configure(config: pytest.Config) -> None:
    """Keep Hypothesis' files out of the project (see `hypothesis_home`)."""
    hypothesis_home()


def fuzz_plan(config: pytest.Config) -> list[plan.FuzzItem]:
    """The fuzz tests of this run, built once (fetching the OpenAPI document when the profile names one)."""
    if _PLAN not in config.stash:
        profile, _ = sg_profile_of(config)
        items = plan.build(profile, target_url(config)) if profile.fuzz else []
        rounds = max(1, stage_options_of(config).repeat or 1)
        config.stash[_PLAN] = [dataclasses.replace(i, round=r) for r in range(rounds) for i in items]
    return config.stash[_PLAN]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per endpoint, OpenAPI operation and flow of the profile."""
    for fixture, kind in FIXTURES.items():
        if fixture in metafunc.fixturenames:
            items = [i for i in fuzz_plan(metafunc.config) if i.kind == kind]
            metafunc.parametrize(fixture, items, ids=[i.check_id for i in items])


@pytest.fixture(scope="session")
def fuzz(pytestconfig: pytest.Config, sg_profile: Any, sg_target: str, sg_options: StageOptions,
         sg_reports_dir: Path) -> Iterator[FuzzEnv]:
    """The run's shared client, pacer, time budget and seed."""
    env = FuzzEnv(sg_profile, sg_target, sg_options, plan.runnable(fuzz_plan(pytestconfig)), sg_reports_dir)
    yield env
    env.close()


@pytest.fixture(autouse=True)
def _seen_source(request: pytest.FixtureRequest) -> Iterator[None]:
    """The answers this test's requests get are recorded (for hygiene's late judgement) as seen by its check."""
    callspec = getattr(request.node, "callspec", None)
    with seen.source(f"fuzz check {callspec.id}" if callspec is not None else f"fuzz {request.node.name}"):
        yield
