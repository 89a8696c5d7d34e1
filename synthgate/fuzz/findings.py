"""What one fuzz test found: its counters, the coverage phase's tally, each failure with its curl reproduction,
and what makes two failures the same defect. Shared by the sender, both phases and the report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from synthgate.fuzz.properties import Violation
from synthgate.fuzz.strategies import Probe
from synthgate.http import Exchange


class PropertyBroken(AssertionError):
    """A response broke a property; the details are in the run's `failure`."""


@dataclass
class Failure:
    """The minimal failing example of a test: what broke, and how to reproduce it."""

    properties: list[str]
    message: str
    curl: str
    kind: str
    exchange: Exchange
    input_class: str = ""  # the coverage class that found it ("" for the random phase)
    phase: str = "random"


Judge = Callable[[Probe, Exchange], list[Violation]]
FailureKey = tuple[tuple[str, ...], str]  # (broken properties, sorted; the answer: status or error kind)


def failure_key(found: list[Violation], ex: Exchange) -> FailureKey:
    """What makes two failures the same defect, input class aside: the broken properties and the answer."""
    return tuple(sorted({v.prop for v in found})), _answer(ex)


def failure_key_of(failure: Failure) -> FailureKey:
    """`failure_key` of a recorded failure."""
    return tuple(failure.properties), _answer(failure.exchange)


def _answer(ex: Exchange) -> str:
    """The answer part of a failure key: the status, or how the request failed."""
    return str(ex.status) if ex.status is not None else (ex.error_kind or "error")


def failure_kind(ex: Exchange) -> str:
    """The check's kind for a failing answer: an assertion when the target answered, else how the request failed."""
    return "assertion" if ex.response is not None else (ex.error_kind or "error")


def path_of(url: str, base: str) -> str:
    """The URL's path on the target, cut to a readable length for a failure message."""
    path = url[len(base):] if url.startswith(base) else url
    return path if len(path) <= 120 else path[:117] + "..."


@dataclass
class Coverage:
    """The coverage phase of one test: how many of its requests went out, and each distinct failure."""

    planned: int = 0
    sent: int = 0
    unsendable: int = 0
    seconds: float = 0.0
    cut: bool = False  # the stage's time ran out before every case was sent
    latency_blips: int = 0  # answers over the latency bound that were in time when sent again alone
    failures: list[Failure] = field(default_factory=list)
    classes: set[str] = field(default_factory=set)


@dataclass
class TestRun:
    """Counters and the last failure of one Hypothesis test."""

    check_id: str
    deadline: float
    shrink_deadline: float
    seed: int
    examples: int = 0
    requests: int = 0
    throttled: int = 0
    failures_seen: int = 0
    budget_cut: bool = False
    failure: Failure | None = None
    started: float = field(default_factory=time.monotonic)
    coverage: Coverage | None = None
    known: set[FailureKey] = field(default_factory=set)  # failures the coverage phase reported
    known_seen: int = 0  # random examples that met one of those again
    wrong_version: int = 0  # answers another version served than the pinned one (synthgate rollout): not judged
    wrong_version_why: str = ""  # the first such answer's reason
