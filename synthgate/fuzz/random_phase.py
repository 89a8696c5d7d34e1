"""The random phase of one fuzz test: Hypothesis' settings and home, the test run with the stage's seed, each
example counted against the test's time share, and an answer that broke a property turned into the run's failure.

The time budget is enforced per example: once a test's share is spent, generation stops; a failure already
found gets a little longer to shrink, then the smallest example found so far is reported.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, Phase, Verbosity, reject, seed, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.control import current_build_context
from hypothesis.errors import FlakyFailure, FlakyStrategyDefinition, Unsatisfiable

from synthgate.fuzz.findings import Failure, PropertyBroken, TestRun, failure_key, failure_kind, path_of
from synthgate.fuzz.pacing import BudgetSpent
from synthgate.fuzz.properties import Violation
from synthgate.fuzz.repro import curl_for
from synthgate.http import Exchange
from synthgate.redact import redactor


def hypothesis_home() -> Path:
    """Keep Hypothesis' files out of the project: the example database is off (runs replay through their seed)
    and the Unicode tables it builds, costly to rebuild, are cached per user ($HYPOTHESIS_STORAGE_DIRECTORY, else
    ~/.cache/synthgate/hypothesis)."""
    configured = os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY")
    if configured:
        return Path(configured)
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "synthgate" / "hypothesis"
    set_hypothesis_home_dir(home)
    return home


def settings_for(max_examples: int, steps: int | None = None) -> settings:
    """Hypothesis settings of the stage: bounded, no example database, one minimal bug per test."""
    return settings(
        max_examples=max_examples,
        deadline=None,  # latency is a property of its own, with the profile's bound
        database=None,  # nothing written into the project; runs replay through the seed instead
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        verbosity=Verbosity.normal,
        stateful_step_count=steps or 10,
    )


def _is_final() -> bool:
    """Whether Hypothesis is replaying the minimal failing example for the last time."""
    try:
        return bool(current_build_context().is_final)
    except Exception:  # noqa: BLE001 - outside a Hypothesis test there is no build context
        return False


def count_example(run: TestRun | None) -> None:
    """Count one example of the running test, and stop generation once the test's time share is spent."""
    assert run is not None, "example() outside FuzzEnv.run_test"
    now = time.monotonic()
    if run.failures_seen:
        if now > run.shrink_deadline and not _is_final():
            run.budget_cut = True
            reject()  # shrinking out of time: no more requests; the smallest failure so far is reported
    elif now > run.deadline:
        run.budget_cut = True
        raise BudgetSpent(f"time share spent after {run.examples} examples")
    run.examples += 1


def expect(run: TestRun | None, found: list[Violation], ex: Exchange, what: str, base_url: str,
           curl: str | None = None) -> None:
    """Fail the example when a property is broken, remembering the failure and its curl reproduction in `run`;
    a defect the coverage phase reported already is counted, and the search goes on."""
    if not found:
        return
    assert run is not None
    if failure_key(found, ex) in run.known:
        run.known_seen += 1  # the coverage phase reported this defect already: look for another one
        return
    run.failures_seen += 1
    detail = "; ".join(str(v) for v in found)
    message = f"{ex.method} {path_of(ex.url, base_url)} {what}: {detail}"
    run.failure = Failure(properties=sorted({v.prop for v in found}), message=message,
                          curl=redactor(curl or curl_for(ex)), kind=failure_kind(ex), exchange=ex)
    raise PropertyBroken(message)


def run_seeded(test: Callable[[], None], run: TestRun) -> BaseException | None:
    """Run the settings-wrapped Hypothesis test with the run's seed; its outcome (None: passed, or stopped by the
    time budget without a failure) for the report. KeyboardInterrupt and SystemExit pass through."""
    try:
        # each test draws its own stream from the run's seed, so one test's changes leave the others alone
        seed(run.seed * 1_000_003 + zlib.crc32(run.check_id.encode()))(test)()
    except BudgetSpent:
        pass
    except (Unsatisfiable, FlakyStrategyDefinition) as exc:
        # Cutting a test short when its time is spent can look like either to Hypothesis: without a
        # failure that is a pass on fewer examples; with one, the smallest failure found is the result.
        if run.budget_cut and run.failures_seen and run.failure is not None:
            return PropertyBroken(run.failure.message)
        if isinstance(exc, FlakyStrategyDefinition) and run.failure is not None:
            return _replayed_elsewhere(run.failure, exc)
        if not run.budget_cut:
            return exc
    except BaseException as exc:  # noqa: BLE001 - every outcome becomes a reported result
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return exc
    return None


def _replayed_elsewhere(failure: Failure, exc: FlakyStrategyDefinition) -> BaseException:
    """The outcome of a test whose replay broke a property at another step than the first run (a flow stops
    drawing where it fails, which Hypothesis calls inconsistent data): a latency-only failure is intermittent, as
    when the replay passes (the machine was busy, not this input slow); any other property is broken."""
    if set(failure.properties) == {"latency"}:
        return FlakyFailure(f"latency over the bound at different steps of a replay: {failure.message}", [exc])
    return PropertyBroken(failure.message)
