"""The fuzz run's environment: what every fuzz test shares (profile, target, sender, pacer, budget, seed), and
one test run from start to result: its time share, the coverage phase, the random phase, the report.

Each job has its own module: `pacing` (request rate, time budget), `sender` (every request: writes refused unless
allowed, paced, version pin), `coverage_phase` (the deterministic cases and their shrinking), `random_phase`
(Hypothesis: settings, seed, examples, failures), `report` (the check's result and evidence), `findings` (what
they pass to each other). `FuzzEnv` is the `fuzz` fixture of the fuzz suite (synthgate/_bundled/suites/fuzz).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import httpx
from hypothesis import settings

from synthgate.fuzz import random_phase
from synthgate.fuzz.coverage_phase import run_coverage
from synthgate.fuzz.findings import Judge, TestRun, failure_key_of
from synthgate.fuzz.pacing import Budget, Pacer
from synthgate.fuzz.plan import FuzzItem
from synthgate.fuzz.properties import Violation
from synthgate.fuzz.report import CheckRecorder, fail_check, report
from synthgate.fuzz.sender import Sender, WriteRefused
from synthgate.fuzz.strategies import Probe
from synthgate.http import Exchange, TemplateError, expand
from synthgate.profile import Profile
from synthgate.profile.fuzz import FuzzConfig
from synthgate.stage_options import StageOptions


class FuzzEnv:
    """Everything the fuzz tests share: profile, target, sender, pacer, budget, seed and the running test."""

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
        self.sender = Sender(profile, self.base_url, self.pacer, self.allow_writes)
        self.concurrency = int(options.concurrency or self.config.concurrency)
        self.coverage_on = bool(self.config.coverage if options.coverage is None else options.coverage)

    @property
    def run(self) -> TestRun | None:
        """The test running now (the sender counts its requests), None between tests."""
        return self.sender.run

    def close(self) -> None:
        """Close the sender's clients."""
        self.sender.close()

    @staticmethod
    def new_session() -> httpx.Cookies:
        """A fresh session for stateful flows (see `Sender.new_session`)."""
        return Sender.new_session()

    def url(self, path: str) -> str:
        """The absolute URL of a path on the target."""
        return self.sender.url(path)

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
            fail_check(f"fuzz endpoint headers: {exc}")

    def admit(self, item: FuzzItem, sg: CheckRecorder) -> None:
        """Name the check; fail it when it cannot run, skip it when it may not (writes without allow_writes)."""
        sg.set(id=item.check_id)
        if item.error:
            sg.set(kind=item.error_kind)
            fail_check(item.error)
        if item.skip:
            import pytest

            pytest.skip(item.skip)

    # ---- inside a Hypothesis example (see random_phase) -----------------------------------------

    def send(self, method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None,
             query: dict[str, str] | None = None, session: httpx.Cookies | None = None) -> Exchange:
        """Send one request of an example (see `Sender.send`: refused writes, pacing, sessions, the pin)."""
        return self.sender.send(method, url, headers, body, query, session)

    def example(self) -> None:
        """Call first in every example: counts it, and stops generation once the test's time share is spent."""
        random_phase.count_example(self.run)

    def expect(self, found: list[Violation], ex: Exchange, what: str, curl: str | None = None) -> None:
        """Fail the example when a property is broken, remembering the failure and its curl reproduction."""
        random_phase.expect(self.run, found, ex, what, self.base_url, curl)

    @staticmethod
    def settings_for(max_examples: int, steps: int | None = None) -> settings:
        """Hypothesis settings of the stage (see `random_phase.settings_for`)."""
        return random_phase.settings_for(max_examples, steps)

    # ---- running a test -------------------------------------------------------------------------

    def run_test(self, check_id: str, test: Callable[[], None], sg: CheckRecorder, round_no: int = 0,
                 cover: tuple[list[Probe], Judge] | None = None) -> None:
        """Run the coverage phase (`cover`: its probes and how to judge an answer), then the settings-wrapped
        Hypothesis test with the stage's seed in the rest of the test's share; report through `sg`."""
        deadline, shrink_deadline = self.budget.next_share()
        run = TestRun(check_id=check_id, deadline=deadline, shrink_deadline=shrink_deadline, seed=self.seed + round_no)
        self.sender.run = run
        if cover is not None and self.coverage_on:
            try:
                # bounded by the stage's deadline (and its grace), not the test's share: coverage comes first
                run.coverage = run_coverage(self.sender, cover[0], cover[1], self.budget.coverage_deadline,
                                            self.concurrency)
            except WriteRefused as exc:
                self.sender.run = None
                report(run, exc, sg, self.reports_dir)
                return
            run.known = {failure_key_of(f) for f in run.coverage.failures}
            if run.coverage.cut:
                self.sender.run = None
                report(run, None, sg, self.reports_dir)
                return
        try:
            outcome = random_phase.run_seeded(test, run)
        finally:
            self.sender.run = None
        report(run, outcome, sg, self.reports_dir)
