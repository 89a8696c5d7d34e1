"""The coverage phase of one fuzz test: every case `coverage.py` planned is sent once (`concurrency` at a time),
each distinct failure kept, and a failing length case shrunk to the shortest input that fails the same way."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from synthgate.fuzz import coverage
from synthgate.fuzz.findings import (
    Coverage,
    Failure,
    FailureKey,
    Judge,
    failure_key,
    failure_kind,
    path_of,
)
from synthgate.fuzz.properties import THROTTLED, Violation
from synthgate.fuzz.repro import curl_for
from synthgate.fuzz.sender import Sender
from synthgate.fuzz.strategies import Probe
from synthgate.http import Exchange
from synthgate.redact import redactor

Answered = tuple[Probe, Exchange, list[Violation]]  # a probe, its answer, and the properties that answer broke


def run_coverage(sender: Sender, probes: list[Probe], judge: Judge, deadline: float, concurrency: int) -> Coverage:
    """Send every coverage probe (`concurrency` at a time), keep each distinct failure, shrink length ones;
    requests are counted in the sender's current test."""
    result = Coverage(planned=len(probes), classes={p.input_class for p in probes})
    started = time.monotonic()

    def one(probe: Probe) -> tuple[Probe, Exchange | None, bool]:
        if time.monotonic() > deadline:
            return probe, None, True
        return probe, sender.send_alone(probe), False

    seen: dict[tuple[tuple[str, ...], str, str], Answered] = {}
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="synthgate-fuzz") as pool:
        answered = list(pool.map(one, probes))
    # judged once every worker is done: the leak scan reads the secret registry the workers' answers teach
    for probe, ex, late in answered:  # in probe order: the first failure of a kind is kept
        if ex is None:
            result.cut = result.cut or late
            result.unsendable += not late
            continue
        if not sender.pinned(ex):  # counted in the test's run: no evidence about the pinned version
            continue
        result.sent += 1
        if sender.run is not None:
            sender.run.throttled += ex.status == THROTTLED
        found = judge(probe, ex)
        if found and all(v.prop == "latency" for v in found):
            # slow only, and sent beside `concurrency` others on a runner that may be busy: sent again alone
            # before it counts (as retries repeat a latency-only failure); a wrong answer is never re-sent
            again = sender.send_alone(probe)
            if again is not None and sender.pinned(again):
                result.sent += 1
                ex, found = again, judge(probe, again)
                result.latency_blips += not found
        if found:
            seen.setdefault((*failure_key(found, ex), probe.input_class), (probe, ex, found))
    for (props, answer, _), (probe, ex, found) in seen.items():
        probe, ex, found = _shrunk(sender, (probe, ex, found), judge, (props, answer), deadline)
        result.failures.append(_coverage_failure(probe, ex, found, sender.base_url))
    result.seconds = time.monotonic() - started
    if sender.run is not None:
        sender.run.requests += result.sent
    return result


def _shrunk(sender: Sender, failing: Answered, judge: Judge, key: FailureKey, deadline: float) -> Answered:
    """The shortest version of a failing length-class probe that fails the same way."""
    best: list[Answered] = [failing]

    def fails(candidate: Probe) -> bool:
        if time.monotonic() > deadline:
            return False
        sent = sender.send_alone(candidate)
        if sent is None or not sender.pinned(sent):
            return False
        if sender.run is not None:
            sender.run.requests += 1
        broken = judge(candidate, sent)
        if broken and failure_key(broken, sent) == key:
            best.append((candidate, sent, broken))
            return True
        return False

    coverage.shrink_length(failing[0], fails, floor=0)
    return min(best, key=lambda t: len(t[0].body or b""))


def _coverage_failure(probe: Probe, ex: Exchange, found: list[Violation], base_url: str) -> Failure:
    """A coverage failure with its message (the input class that found it) and its curl reproduction."""
    detail = "; ".join(str(v) for v in found)
    message = (f"{ex.method} {path_of(ex.url, base_url)} ({probe.kind} input, coverage class "
               f"{probe.input_class}: {probe.label}): {detail}")
    return Failure(properties=sorted({v.prop for v in found}), message=message, curl=redactor(curl_for(ex)),
                   kind=failure_kind(ex), exchange=ex, input_class=probe.input_class, phase="coverage")
