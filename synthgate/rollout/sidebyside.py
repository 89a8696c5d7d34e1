"""The side-by-side phase of a traffic step: the same requests sent to both versions at the same time.

Each request of the profile's load mix goes out twice at once, pinned to the new and to the old version, from
two threads over kept-alive connections; which side leaves first alternates. Both sides thus meet the same
network, the same platform load and the same moment, and differ only by the version that answered. Then:

- latency, per task and over all tasks: the baseline stage's test (Mann-Whitney U, one-sided, with the
  Hodges-Lehmann shift and a relative rise; synthgate.baseline.compare_latency), new against old;
- errors (5xx, no answer, a status the task does not expect): the new version with any error fails, whatever
  the old one shows (Kayenta's zero-baseline case: a canary with errors must not pass because the baseline had
  none); the two-proportion test is reported beside it;
- absolute floors: the profile's load thresholds (p50/p95/p99, error rate) hold for the new version on its own.

Answers that name another version than the one pinned are counted apart and never used as samples.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from synthgate.baseline import compare_error_rate, compare_latency, percentile
from synthgate.http import Exchange, make_client, send_raw
from synthgate.loadgen.plan import PlannedRequest, build_plan
from synthgate.profile.model import BaselineConfig, Profile
from synthgate.profile.rollout import Comparison
from synthgate.results import CheckResult, RolloutComparison, SideBySideFigures, VersionFigures
from synthgate.version_pin import VersionPin, mismatch

ALL = "all tasks"
WARMUP_PER_TASK = 1  # each side's first answer per task is a cold start, not a sample


@dataclass
class Side:
    """What one version answered: latencies of good answers, errors, answers from another version."""

    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    wrong_version: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_examples: list[str] = field(default_factory=list)
    mismatch_example: str = ""

    def record(self, name: str, ex: Exchange, expect: frozenset[int], pin: VersionPin) -> None:
        """Count one answer."""
        why = mismatch(ex.response, pin)
        if why is not None:
            self.wrong_version[name] += 1
            self.mismatch_example = self.mismatch_example or why
            return
        self.requests[name] += 1
        status = ex.status
        if status is None or status >= 500 or status not in expect:
            self.errors[name] += 1
            if len(self.error_examples) < 5:
                self.error_examples.append(f"{name}: {status if status is not None else ex.error}")
            return
        self.samples[name].append(ex.duration_ms)

    def total(self) -> tuple[int, int]:
        """(errors, requests) over every task."""
        return sum(self.errors.values()), sum(self.requests.values())


@dataclass
class SideBySide:
    """Both sides of one phase, and how long it ran."""

    new: Side
    old: Side
    pairs: int
    duration_s: float
    tasks: list[str]


def run_pairs(profile: Profile, base_url: str, new: VersionPin, old: VersionPin, duration_s: float,
              concurrency: int, stop: Callable[[], bool] = lambda: False, seed: int = 0) -> SideBySide:
    """Send the load mix to both versions at once, pair by pair, for `duration_s` (or until `stop()`)."""
    plan = build_plan(profile)
    if not plan.requests:
        raise ValueError("the profile's load section has no read-only task to compare the versions with "
                         "(add load.tasks, or set load.allow_writes)")
    weights = [r.weight for r in plan.requests]
    sides = {"new": Side(), "old": Side()}
    lock = threading.Lock()
    seen: dict[tuple[str, str], int] = defaultdict(int)
    pairs = 0
    ends = time.monotonic() + duration_s

    def one(client: Any, req: PlannedRequest, pin: VersionPin) -> Exchange:
        return send_raw(client, req.method, base_url.rstrip("/") + req.path, {**req.headers, **pin.headers},
                        req.body)

    def worker(n: int) -> None:
        nonlocal pairs
        rng = random.Random(seed * 1000 + n)
        with make_client(profile, timeout_s=plan.timeout_s) as c_new, make_client(profile, timeout_s=plan.timeout_s
                                                                                  ) as c_old, \
                ThreadPoolExecutor(max_workers=1) as helper:
            flip = n % 2 == 0
            while time.monotonic() < ends and not stop():
                req = rng.choices(plan.requests, weights=weights)[0]
                # both at the same moment: one side from a helper thread, the other from this one, alternating
                first, second = ((c_new, new), (c_old, old)) if flip else ((c_old, old), (c_new, new))
                flip = not flip
                later = helper.submit(one, second[0], req, second[1])
                ex_first = one(first[0], req, first[1])
                ex_second = later.result()
                answers = {first[1].version: ex_first, second[1].version: ex_second}
                with lock:
                    pairs += 1
                    for label, pin in (("new", new), ("old", old)):
                        key = (label, req.name)
                        seen[key] += 1
                        if seen[key] <= WARMUP_PER_TASK:
                            continue
                        sides[label].record(req.name, answers[pin.version], req.expect_status, pin)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration_s + plan.timeout_s * 2 + 10)
    tasks = list(dict.fromkeys(r.name for r in plan.requests))
    return SideBySide(sides["new"], sides["old"], pairs, round(time.monotonic() - started, 3), tasks)


def judge(result: SideBySide, profile: Profile, cfg: Comparison) -> tuple[list[CheckResult], list[RolloutComparison]]:
    """The step's comparison checks (each failed one stops the rollout) and every comparison made, for reports."""
    base = BaselineConfig(confidence=cfg.confidence, min_effect_ms=cfg.min_effect_ms,
                          max_regression=cfg.max_regression, min_samples=cfg.min_samples)
    new, old = result.new, result.old
    checks: list[CheckResult] = []
    compared: list[RolloutComparison] = []
    groups = [(ALL, _merged(new.samples), _merged(old.samples))]
    groups += [(t, new.samples.get(t, []), old.samples.get(t, [])) for t in result.tasks]
    for name, after, before in groups:
        decision = compare_latency(f"latency[{name}]", before, after, base)
        compared.append(RolloutComparison(task=name, **dict(decision.metric())))
        thin = min(len(before), len(after)) < cfg.min_samples
        if name == ALL and thin:
            checks.append(CheckResult(id="compare.latency", status="failed", kind="no-data",
                                      message=f"inconclusive: {decision.reason} ({len(after)} new, {len(before)} old)"))
        elif decision.regressed:
            checks.append(CheckResult(id=f"compare.{decision.name}", status="failed", kind="regression",
                                      message=f"the new version is slower than the old one side by side: "
                                              f"{decision.change}; {decision.reason}", details=decision.as_dict()))
    for name in [ALL, *result.tasks]:
        n_err, n_req = (new.total() if name == ALL else (new.errors.get(name, 0), new.requests.get(name, 0)))
        o_err, o_req = (old.total() if name == ALL else (old.errors.get(name, 0), old.requests.get(name, 0)))
        decision = compare_error_rate(f"error_rate[{name}]", (o_err, o_req), (n_err, n_req), base)
        compared.append(RolloutComparison(task=name, **dict(decision.metric())))
    n_err, n_req = new.total()
    o_err, o_req = old.total()
    if n_err:
        checks.append(CheckResult(
            id="compare.new-version-errors", status="failed", kind="assertion",
            message=(f"the new version answered {n_err} of {n_req} requests with an error (the old one: {o_err} of "
                     f"{o_req}); a canary with errors fails whatever the stable side shows: "
                     + "; ".join(new.error_examples))))
    if not n_req:
        checks.append(CheckResult(id="compare.executed", status="failed", kind="no-data",
                                  message="inconclusive: no answer of the new version could be compared"))
    for label, side in (("new", new), ("old", old)):
        wrong = sum(side.wrong_version.values())
        if wrong:
            checks.append(CheckResult(id=f"compare.version-evidence.{label}", status="failed", kind="no-data",
                                      message=f"{wrong} answer(s) pinned to the {label} version came from another "
                                              f"version and were not used: {side.mismatch_example}"))
    checks += _floors(new, profile)
    return checks, compared


def _merged(samples: dict[str, list[float]]) -> list[float]:
    return [v for values in samples.values() for v in values]


def _floors(new: Side, profile: Profile) -> list[CheckResult]:
    """The profile's absolute load thresholds, on the new version's answers alone."""
    th = profile.load.thresholds if profile.load is not None else None
    if th is None:
        return []
    out: list[CheckResult] = []
    values = _merged(new.samples)
    for key, q, limit in (("p50", 50, th.p50_ms), ("p95", 95, th.p95_ms), ("p99", 99, th.p99_ms)):
        if limit is not None and values:
            got = percentile(values, q)
            if got > limit:
                out.append(CheckResult(id=f"floor.{key}", status="failed", kind="assertion",
                                       message=f"the new version's {key.upper()} is {got:.1f} ms, over the "
                                               f"profile's {limit:g} ms"))
    errors, requests = new.total()
    if th.error_rate is not None and requests and errors / requests > th.error_rate:
        out.append(CheckResult(id="floor.error_rate", status="failed", kind="assertion",
                               message=f"the new version's error rate is {errors / requests:.2%}, over the "
                                       f"profile's {th.error_rate:.2%}"))
    return out


def figures(result: SideBySide) -> SideBySideFigures:
    """Headline numbers of both sides, for reports."""

    def side(side: Side) -> VersionFigures:
        values = _merged(side.samples)
        errors, requests = side.total()
        return VersionFigures(requests=requests, errors=errors, wrong_version=sum(side.wrong_version.values()),
                              p50_ms=round(percentile(values, 50), 3) if values else None,
                              p95_ms=round(percentile(values, 95), 3) if values else None)

    return SideBySideFigures(pairs=result.pairs, duration_s=result.duration_s, new=side(result.new),
                             old=side(result.old))
