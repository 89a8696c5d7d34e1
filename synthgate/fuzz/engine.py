"""The fuzz run: one paced client, the time budget, Hypothesis settings and seeds, and failure reports.

Safety for production targets lives here: every request goes through `FuzzEnv.send`, which refuses writes
unless the profile allows them, waits for the shared pacer, and sends the profile's synthetic-traffic headers.
The time budget is enforced per example: once a test's share is spent, generation stops; a failure already
found gets a little longer to shrink, then the smallest example found so far is reported.
"""

from __future__ import annotations

import os
import random
import threading
import time
import unittest
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, Verbosity, reject, seed, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.control import current_build_context
from hypothesis.errors import FlakyFailure, FlakyStrategyDefinition, Unsatisfiable

from synthgate import version_pin
from synthgate.fuzz import coverage
from synthgate.fuzz.plan import FuzzItem
from synthgate.fuzz.properties import THROTTLED, Violation
from synthgate.fuzz.repro import curl_for
from synthgate.fuzz.strategies import Probe
from synthgate.http import Exchange, TemplateError, expand, make_client, send_raw
from synthgate.profile import Profile
from synthgate.profile.fuzz import SAFE_METHODS, FuzzConfig
from synthgate.redact import redactor
from synthgate.reports.har import write_exchanges  # the shrunk failing example as a HAR (reports/har/)
from synthgate.stage_options import StageOptions

MESSAGE_CURL_LIMIT = 1_500  # the message quotes the curl line up to this; the check's curl field has all of it
SHRINK_EXTRA_MIN_S, SHRINK_EXTRA_MAX_S = 2.0, 10.0  # shrinking time beyond a test's share
# The coverage phase is a small fixed set of cases (under a second on loopback): it still runs this long past the
# stage's budget when earlier tests spent it shrinking their failures, so a late test is measured, not "no data".
# Within the suite's hard limit (max_time_s + 60 s, synthgate/stages/fuzz.py), with room left to report.
COVERAGE_GRACE_S = 40.0
# pinned to a version (synthgate rollout): above this share of answers from another version a test is no data (as
# the load stage's MAX_WRONG_VERSION_SHARE); below it the other version's answers are left out, the rest judged
MAX_WRONG_VERSION_SHARE = 0.05


class Pacer:
    """At most `rps` requests per second, across every request and thread of the process."""

    def __init__(self, rps: float) -> None:
        self.interval = 1.0 / rps
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until this request's slot."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class Budget:
    """The stage's time budget, shared out evenly among the tests that have not started yet."""

    def __init__(self, total_s: float, tests: int) -> None:
        self.deadline = time.monotonic() + total_s
        self.coverage_deadline = self.deadline + COVERAGE_GRACE_S
        self.left = max(1, tests)

    def next_share(self) -> tuple[float, float]:
        """(deadline for generating, deadline for shrinking a failure found) of the test that starts now."""
        now = time.monotonic()
        share = max(0.0, self.deadline - now) / self.left
        self.left = max(1, self.left - 1)
        # a failure found late still gets time to shrink; the stage's hard limit has a grace period for it
        return now + share, now + share + min(SHRINK_EXTRA_MAX_S, max(SHRINK_EXTRA_MIN_S, share))


class BudgetSpent(unittest.SkipTest):
    """The test's time share is spent: Hypothesis re-raises skips at once, so generation stops here."""


class WriteRefused(RuntimeError):
    """A request with a write method while the profile does not allow writes."""


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


def failure_key(found: list[Violation], ex: Exchange) -> tuple[tuple[str, ...], str]:
    """What makes two failures the same defect, input class aside: the broken properties and the answer."""
    answer = str(ex.status) if ex.status is not None else (ex.error_kind or "error")
    return tuple(sorted({v.prop for v in found})), answer


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
    known: set[tuple[tuple[str, ...], str]] = field(default_factory=set)  # failures the coverage phase reported
    known_seen: int = 0  # random examples that met one of those again
    wrong_version: int = 0  # answers another version served than the pinned one (synthgate rollout): not judged
    wrong_version_why: str = ""  # the first such answer's reason


# Requests the HTTP client itself refuses to send (an illegal header value, a URL over its length limit):
# the target never saw them, so they say nothing about it and the example is discarded.
CLIENT_SIDE_ERRORS = ("LocalProtocolError", "UnsupportedProtocol", "InvalidURL")


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


def _is_final() -> bool:
    """Whether Hypothesis is replaying the minimal failing example for the last time."""
    try:
        return bool(current_build_context().is_final)
    except Exception:  # noqa: BLE001 - outside a Hypothesis test there is no build context
        return False


class FuzzEnv:
    """Everything the fuzz tests share: profile, target, client, pacer, budget, seed and counters."""

    def __init__(self, profile: Profile, base_url: str, options: StageOptions, tests_total: int,
                 reports_dir: Path | None = None) -> None:
        self.profile = profile
        self.config: FuzzConfig = profile.fuzz or FuzzConfig()
        self.base_url = base_url.rstrip("/")
        self.reports_dir = reports_dir
        self.max_examples = self.config.max_examples
        self.options_examples = options.max_examples or None
        given = self.config.seed if options.seed is None else options.seed
        # Without a seed, pick one and report it: every run can be replayed with `synthgate run --seed N`.
        self.seed = int(given) if given is not None else random.SystemRandom().randrange(2**31)
        self.allow_writes = self.config.allow_writes
        self.latency_ms = self.config.latency_ms or profile.defaults.latency_budget_ms
        self.huge = self.config.huge_length
        self.pacer = Pacer(float(options.max_rps or self.config.max_rps))
        self.budget = Budget(float(options.max_time_s or self.config.max_time_s), tests_total)
        self.client = make_client(profile)
        self.concurrency = int(options.concurrency or self.config.concurrency)
        self.coverage_on = bool(self.config.coverage if options.coverage is None else options.coverage)
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._clients_lock = threading.Lock()
        self.run: TestRun | None = None

    def close(self) -> None:
        """Close the shared client and the coverage phase's clients."""
        self.client.close()
        for client in self._clients:
            client.close()

    @staticmethod
    def new_session() -> httpx.Cookies:
        """A fresh session for stateful flows: its own cookie jar (clients are costly to create, jars are not)."""
        return httpx.Cookies()

    def url(self, path: str) -> str:
        """The absolute URL of a path on the target."""
        return self.base_url + path

    def examples_for(self, declared: int | None) -> int:
        """Examples of one test: the run's override, else the endpoint's own bound, else the section's."""
        if self.options_examples is not None:
            return self.options_examples
        return declared or self.max_examples

    def endpoint_headers(self, headers: dict[str, str]) -> dict[str, str]:
        """An endpoint's extra headers with ${secrets.X} and ${vars.X} resolved (a missing one fails the test)."""
        try:
            return {str(k): str(v) for k, v in expand(headers, self.profile).items()}
        except TemplateError as exc:
            _fail(f"fuzz endpoint headers: {exc}")
            raise

    def admit(self, item: FuzzItem, sg: Any) -> None:
        """Name the check; fail it when it cannot run, skip it when it may not (writes without allow_writes)."""
        sg.set(id=item.check_id)
        if item.error:
            sg.set(kind=item.error_kind)
            _fail(item.error)
        if item.skip:
            import pytest

            pytest.skip(item.skip)

    # ---- requests -------------------------------------------------------------------------------

    def send(self, method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None,
             query: dict[str, str] | None = None, session: httpx.Cookies | None = None) -> Exchange:
        """Send one request: writes refused unless allowed, paced, with the synthetic-traffic headers.

        Without `session` the request starts a fresh session (no cookies kept), so every example stands alone
        and its curl line reproduces it; with one, the session's cookies go out and come back updated.
        """
        method = method.upper()
        if method not in SAFE_METHODS and not self.allow_writes:
            raise WriteRefused(f"{method} {url}: writes are not allowed (set fuzz.allow_writes in the profile)")
        self.pacer.wait()
        if session is not None:
            self.client.cookies = session  # the client copies the session's cookies
        try:
            # profile secrets are registered when templates expand; generated header values are not secrets
            ex = send_raw(self.client, method, url, headers, body, params=query or None, learn_headers=False)
        except (httpx.InvalidURL, UnicodeError):
            self.client.cookies.clear()
            reject()
        if ex.error and ex.error.startswith(CLIENT_SIDE_ERRORS):
            self.client.cookies.clear()
            reject()
        if session is not None:
            session.update(self.client.cookies)
        self.client.cookies.clear()
        if not self.pinned(ex):
            reject()  # another version answered: this example says nothing about the pinned one
        if self.run is not None:
            self.run.requests += 1
            self.run.throttled += ex.status == THROTTLED
        return ex

    def pinned(self, ex: Exchange) -> bool:
        """Whether the answer may be judged: nothing is pinned, or the pinned version served it (synthgate
        rollout; see synthgate/version_pin.py). An answer from another version is counted, never judged."""
        why = version_pin.mismatch(ex.response)
        if why is None:
            return True
        run = self.run
        if run is not None:
            run.wrong_version += 1
            run.wrong_version_why = run.wrong_version_why or why
        return False

    # ---- the coverage phase ---------------------------------------------------------------------

    def _thread_client(self) -> httpx.Client:
        """One client per worker thread: one shared client serialises concurrent requests (MEASUREMENTS.md)."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = make_client(self.profile)
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def send_alone(self, probe: Probe) -> Exchange | None:
        """Send one probe from a worker thread, in a fresh session; None when the client cannot send it."""
        method = probe.method.upper()
        if method not in SAFE_METHODS and not self.allow_writes:
            raise WriteRefused(f"{method} {probe.path}: writes are not allowed (set fuzz.allow_writes)")
        client = self._thread_client()
        self.pacer.wait()
        try:
            ex = send_raw(client, method, self.url(probe.path), probe.headers, probe.body,
                          params=probe.query or None, learn_headers=False)
        except (httpx.InvalidURL, UnicodeError):
            return None
        finally:
            client.cookies.clear()
        if ex.error and ex.error.startswith(CLIENT_SIDE_ERRORS):
            return None
        return ex

    def cover(self, probes: list[Probe], judge: Judge, deadline: float) -> Coverage:
        """Send every coverage probe (`concurrency` at a time), keep each distinct failure, shrink length ones."""
        result = Coverage(planned=len(probes), classes={p.input_class for p in probes})
        started = time.monotonic()

        def one(probe: Probe) -> tuple[Probe, Exchange | None, bool]:
            if time.monotonic() > deadline:
                return probe, None, True
            return probe, self.send_alone(probe), False

        seen: dict[tuple[tuple[str, ...], str, str], tuple[Probe, Exchange, list[Violation]]] = {}
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="synthgate-fuzz") as pool:
            answered = list(pool.map(one, probes))
        # judged once every worker is done: the leak scan reads the secret registry the workers' answers teach
        for probe, ex, late in answered:  # in probe order: the first failure of a kind is kept
            if ex is None:
                result.cut = result.cut or late
                result.unsendable += not late
                continue
            if not self.pinned(ex):  # counted in the test's run: no evidence about the pinned version
                continue
            result.sent += 1
            if self.run is not None:
                self.run.throttled += ex.status == THROTTLED
            found = judge(probe, ex)
            if found and all(v.prop == "latency" for v in found):
                # slow only, and sent beside `concurrency` others on a runner that may be busy: sent again alone
                # before it counts (as retries repeat a latency-only failure); a wrong answer is never re-sent
                again = self.send_alone(probe)
                if again is not None and self.pinned(again):
                    result.sent += 1
                    ex, found = again, judge(probe, again)
                    result.latency_blips += not found
            if found:
                seen.setdefault((*failure_key(found, ex), probe.input_class), (probe, ex, found))
        for (props, answer, _), (probe, ex, found) in seen.items():
            probe, ex, found = self._shrunk(probe, ex, found, judge, (props, answer), deadline)
            result.failures.append(self._coverage_failure(probe, ex, found))
        result.seconds = time.monotonic() - started
        if self.run is not None:
            self.run.requests += result.sent
        return result

    def _shrunk(self, probe: Probe, ex: Exchange, found: list[Violation], judge: Judge,
                key: tuple[tuple[str, ...], str], deadline: float) -> tuple[Probe, Exchange, list[Violation]]:
        """The shortest version of a failing length-class probe that fails the same way."""
        best: list[tuple[Probe, Exchange, list[Violation]]] = [(probe, ex, found)]

        def fails(candidate: Probe) -> bool:
            if time.monotonic() > deadline:
                return False
            sent = self.send_alone(candidate)
            if sent is None or not self.pinned(sent):
                return False
            if self.run is not None:
                self.run.requests += 1
            broken = judge(candidate, sent)
            if broken and failure_key(broken, sent) == key:
                best.append((candidate, sent, broken))
                return True
            return False

        coverage.shrink_length(probe, fails, floor=0)
        return min(best, key=lambda t: len(t[0].body or b""))

    def _coverage_failure(self, probe: Probe, ex: Exchange, found: list[Violation]) -> Failure:
        kind = "assertion" if ex.response is not None else (ex.error_kind or "error")
        detail = "; ".join(str(v) for v in found)
        message = (f"{ex.method} {_path_of(ex.url, self.base_url)} ({probe.kind} input, coverage class "
                   f"{probe.input_class}: {probe.label}): {detail}")
        return Failure(properties=sorted({v.prop for v in found}), message=message, curl=redactor(curl_for(ex)),
                       kind=kind, exchange=ex, input_class=probe.input_class, phase="coverage")

    # ---- inside a Hypothesis example -----------------------------------------------------------

    def example(self) -> None:
        """Call first in every example: counts it, and stops generation once the test's time share is spent."""
        run = self.run
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

    def expect(self, found: list[Violation], ex: Exchange, what: str, curl: str | None = None) -> None:
        """Fail the example when a property is broken, remembering the failure and its curl reproduction."""
        if not found:
            return
        run = self.run
        assert run is not None
        if failure_key(found, ex) in run.known:
            run.known_seen += 1  # the coverage phase reported this defect already: look for another one
            return
        run.failures_seen += 1
        kind = "assertion" if ex.response is not None else (ex.error_kind or "error")
        detail = "; ".join(str(v) for v in found)
        message = f"{ex.method} {_path_of(ex.url, self.base_url)} {what}: {detail}"
        run.failure = Failure(properties=sorted({v.prop for v in found}), message=message,
                              curl=redactor(curl or curl_for(ex)), kind=kind, exchange=ex)
        raise PropertyBroken(message)

    # ---- running a test -------------------------------------------------------------------------

    def settings_for(self, max_examples: int, steps: int | None = None) -> settings:
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

    def run_test(self, check_id: str, test: Callable[[], None], sg: Any, round_no: int = 0,
                 cover: tuple[list[Probe], Judge] | None = None) -> None:
        """Run the coverage phase (`cover`: its probes and how to judge an answer), then the settings-wrapped
        Hypothesis test with the stage's seed in the rest of the test's share; report through `sg`."""
        run_seed = self.seed + round_no
        deadline, shrink_deadline = self.budget.next_share()
        run = TestRun(check_id=check_id, deadline=deadline, shrink_deadline=shrink_deadline, seed=run_seed)
        self.run = run
        outcome: BaseException | None = None
        if cover is not None and self.coverage_on:
            try:
                # bounded by the stage's deadline (and its grace), not the test's share: coverage comes first
                run.coverage = self.cover(cover[0], cover[1], self.budget.coverage_deadline)
            except WriteRefused as exc:
                self.run = None
                self._report(run, exc, sg)
                return
            run.known = {failure_key_of(f) for f in run.coverage.failures}
            if run.coverage.cut:
                self.run = None
                self._report(run, None, sg)
                return
        try:
            # each test draws its own stream from the run's seed, so one test's changes leave the others alone
            seed(run_seed * 1_000_003 + zlib.crc32(check_id.encode()))(test)()
        except BudgetSpent:
            pass
        except (Unsatisfiable, FlakyStrategyDefinition) as exc:
            # Cutting a test short when its time is spent can look like either to Hypothesis: without a
            # failure that is a pass on fewer examples; with one, the smallest failure found is the result.
            if run.budget_cut and run.failures_seen and run.failure is not None:
                outcome = PropertyBroken(run.failure.message)
            elif not run.budget_cut:
                outcome = exc
        except BaseException as exc:  # noqa: BLE001 - every outcome becomes a reported result
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            outcome = exc
        finally:
            self.run = None
        self._report(run, outcome, sg)

    def _report(self, run: TestRun, outcome: BaseException | None, sg: Any) -> None:
        details: dict[str, Any] = {"examples": run.examples, "requests": run.requests, "seed": run.seed}
        if run.throttled:
            details["throttled_429"] = run.throttled
        if run.budget_cut:
            details["budget_cut"] = True
        cov = run.coverage
        if cov is not None:
            details["coverage"] = {"cases": cov.planned, "sent": cov.sent, "classes": len(cov.classes),
                                   "seconds": round(cov.seconds, 3), "complete": not cov.cut,
                                   "failures": len(cov.failures), "latency_blips": cov.latency_blips}
        if run.known_seen:
            details["known_failures_met_again"] = run.known_seen
        duration_ms = round((time.monotonic() - run.started) * 1000, 1)
        failures = list(cov.failures) if cov is not None else []
        if run.wrong_version:
            details.update(wrong_version=run.wrong_version, pinned_to=getattr(version_pin.active(), "version", None))
            found = failures or (isinstance(outcome, PropertyBroken) and run.failure is not None)
            gave_up = isinstance(outcome, Unsatisfiable | FlakyStrategyDefinition)  # on the rejected examples
            if not found and (gave_up or self._wrong_share(run) > MAX_WRONG_VERSION_SHARE):
                # what was judged is too little of what was sent to say anything about the pinned version
                sg.set(id=run.check_id, duration_ms=duration_ms, details=details, kind="no-data")
                _fail(redactor(f"no evidence about the pinned version: {run.wrong_version} of "
                               f"{run.wrong_version + run.requests} answers came from another version "
                               f"({run.wrong_version_why})"))
        if failures and (outcome is None or isinstance(outcome, PropertyBroken | FlakyFailure)):
            if isinstance(outcome, PropertyBroken) and run.failure is not None:
                failures.append(run.failure)  # a new defect found by the random phase, after the coverage ones
            self._report_failures(run, failures, details, duration_ms, sg)
            return
        if cov is not None and cov.cut and outcome is None:
            sg.set(id=run.check_id, duration_ms=duration_ms, details=details, kind="no-data")
            _fail(f"the coverage phase did not finish: {cov.sent} of {cov.planned} cases sent before the stage's "
                  "time budget ran out (raise fuzz.max_time_s or fuzz.concurrency)")
        if outcome is None:
            sg.set(id=run.check_id, duration_ms=duration_ms, details=details)
            return
        failure = run.failure
        if isinstance(outcome, FlakyFailure) and failure is not None:
            # failed once, then passed on replay: intermittent (a blip, or load), reported apart like a retry
            details.update(intermittent=failure.message, intermittent_properties=failure.properties,
                           curl=failure.curl)
            sg.set(id=run.check_id, duration_ms=duration_ms, details=details, flaky=True, attempts=2)
            return
        if failure is None or not isinstance(outcome, PropertyBroken):
            message = redactor(f"the fuzz test itself failed: {outcome.__class__.__name__}: {outcome}"[:2000])
            sg.set(id=run.check_id, duration_ms=duration_ms, details=details, kind="error")
            _fail(message)
        assert failure is not None
        evidence = self._write_evidence(run.check_id, failure)
        details.update(properties=failure.properties, shrunk=not run.budget_cut)
        curl = failure.curl
        quoted = curl if len(curl) <= MESSAGE_CURL_LIMIT else curl[:MESSAGE_CURL_LIMIT] + " ... (full command in curl)"
        minimal = "smallest example found before the time budget ran out" if run.budget_cut else "minimal example"
        message = (f"property {', '.join(failure.properties)} broken: {failure.message} "
                   f"[{minimal}, {run.examples} examples; seed {run.seed}]\nreproduce: {quoted}")
        sg.set(id=run.check_id, duration_ms=duration_ms, details=details, kind=failure.kind, curl=curl,
               evidence=evidence)
        _fail(redactor(message))

    @staticmethod
    def _wrong_share(run: TestRun) -> float:
        """The share of the test's answers another version served (pinned)."""
        return run.wrong_version / max(1, run.wrong_version + run.requests)

    def _report_failures(self, run: TestRun, failures: list[Failure], details: dict[str, Any], duration_ms: float,
                         sg: Any) -> None:
        """Every distinct failure of one test, each with its own curl repro and evidence file."""
        evidence: list[str] = []
        listed: list[dict[str, Any]] = []
        lines: list[str] = []
        for n, failure in enumerate(failures, 1):
            evidence += self._write_evidence(run.check_id if n == 1 else f"{run.check_id}-{n}", failure)
            listed.append({"properties": failure.properties, "status": failure.exchange.status,
                           "input_class": failure.input_class or "random", "phase": failure.phase,
                           "message": failure.message[:500], "curl": failure.curl})
            curl = failure.curl
            quoted = curl if len(curl) <= MESSAGE_CURL_LIMIT else curl[:MESSAGE_CURL_LIMIT] + " ... (full command in " \
                f"details.failures[{n - 1}].curl)"
            lines.append(f"({n}) property {', '.join(failure.properties)} broken: {failure.message}\n"
                         f"    reproduce: {quoted}")
        details.update(failures=listed, properties=sorted({p for f in failures for p in f.properties}))
        head = (f"{len(failures)} distinct failure(s) (by property, answer and input class) "
                f"[{run.examples} random examples after the coverage phase; seed {run.seed}]")
        sg.set(id=run.check_id, duration_ms=duration_ms, details=details, kind=failures[0].kind,
               curl=failures[0].curl, evidence=evidence)
        _fail(redactor(head + "\n" + "\n".join(lines)))

    def _write_evidence(self, check_id: str, failure: Failure) -> list[str]:
        if self.reports_dir is None:
            return []
        rel = Path("fuzz") / f"{check_id}.txt"
        path = self.reports_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        text = f"{failure.message}\n\nreproduce:\n{failure.curl}\n\n{failure.exchange.describe(limit=4000)}\n"
        path.write_text(redactor(text), encoding="utf-8")

        har = write_exchanges(self.reports_dir, check_id, [failure.exchange])
        return [str(rel)] + ([har] if har else [])


def failure_key_of(failure: Failure) -> tuple[tuple[str, ...], str]:
    """`failure_key` of a recorded failure."""
    ex = failure.exchange
    answer = str(ex.status) if ex.status is not None else (ex.error_kind or "error")
    return tuple(failure.properties), answer


def _fail(message: str) -> None:
    import pytest

    pytest.fail(message, pytrace=False)


def _path_of(url: str, base: str) -> str:
    path = url[len(base):] if url.startswith(base) else url
    return path if len(path) <= 120 else path[:117] + "..."
