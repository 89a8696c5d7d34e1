"""Fixtures for synthgate's own tests: the CLI as a subprocess, the embedded demo target."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYNTHGATE = [sys.executable, "-m", "synthgate"]


def run_cli_in_process(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the synthgate CLI in this process (typer's runner): for usage errors decided before any stage starts,
    where a child process would only add the interpreter's start-up. The process contract (exit codes of a real
    `synthgate` process) keeps its own tests through `run_cli`."""
    from typer.testing import CliRunner

    from synthgate.cli import app

    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the synthgate CLI in a child process, as a user would."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("GITHUB_ACTIONS", None) if env is None or "GITHUB_ACTIONS" not in env else None
    return subprocess.run([*SYNTHGATE, *args], capture_output=True, text=True, timeout=timeout,
                          env=full_env, cwd=str(cwd or ROOT), stdin=subprocess.DEVNULL, check=False)


# The fast tier (`make check`, `-m "not slow"`) leaves out what starts whole gates, browsers, Locust, PostgreSQL or
# an installed wheel. A test is slow when it uses one of these fixtures, is in one of these files (their tests run
# gates or load in-process), is named in SLOW_TESTS (file::test, measured over ~5 s on a loaded machine), or is
# marked `@pytest.mark.slow` itself.
SLOW_FIXTURES = frozenset({"cli", "chromium", "demo_target", "postgres_url", "installed", "wheel", "page",
                           "github_run", "generated"})
SLOW_FILES = frozenset({
    "test_a11y.py", "test_baseline_gate.py", "test_cold_start.py", "test_detect_attempts.py", "test_detect_auth.py",
    "test_detect_server_errors.py", "test_e2e_stage.py", "test_examples.py", "test_fuzz_stage.py", "test_gate.py",
    "test_hostile.py", "test_install.py", "test_load_numbers.py", "test_load_stage_demo.py", "test_probe.py",
    "test_shared_state.py", "test_vitals.py", "test_rollback_lock.py", "test_e2e_diagnosis.py",
    # whole gates, browsers, clusters and third-party apps (added with issues 21-25)
    "test_thirdparty_apps.py", "test_load_cluster.py", "test_rollout.py", "test_detect2_faults.py",
    "test_detect2_hang.py", "test_error_verdict.py", "test_debt.py", "test_accept.py",
})
SLOW_TESTS = frozenset({
    "test_readiness_release.py::test_the_gate_judges_the_new_release_once_it_is_live",
    "test_readiness_hygiene.py::test_a_warn_item_is_reported_and_never_fails_the_gate",
    "test_readiness_tls.py::test_demo_serves_https_that_the_gate_trusts_through_its_ca",
    "test_fuzz_coverage.py::test_the_random_phase_never_sends_an_empty_path_segment_either",
    "test_fuzz_coverage.py::test_demo_long_field_crash_is_found_by_the_huge_length_class",
    "test_fuzz_coverage.py::test_concurrent_coverage_reports_every_distinct_failure_on_a_slow_target",
    "test_user_checks.py::test_this_repository_runs_its_smoke_suite_alone_against_the_embedded_demo",
    "test_store.py::test_one_shared_incident_however_many_processes_race",
})


# `make test` runs most tests in parallel worker processes; these judge measured latency or a wall-clock bound
# that a busy machine would break, so they get the `serial` mark and run afterwards, one at a time.
SERIAL_FILES = frozenset({"test_load_numbers.py", "test_vitals.py", "test_e2e_slots.py"})
SERIAL_TESTS = frozenset({
    "test_baseline_gate.py::test_healthy_runs_raise_no_regression_and_latency_regression_fails_on_comparison",
    "test_fuzz_coverage.py::test_concurrent_coverage_reports_every_distinct_failure_on_a_slow_target",
    "test_e2e_stage.py::test_journey_variants_without_code",
    "test_e2e_stage.py::test_healthy_target_passes_the_journeys_round_after_round",  # INP budgets, round after round
})
# The serial tier runs in two lanes, one xdist worker each: these mostly wait on a deadline they judge (hostile
# servers, slow webhooks, refused files) and use little CPU, so they run beside the latency-judging ones (the other
# lane), never beside each other. Within a lane, tests run one at a time.
SERIAL_WAITING_TESTS = frozenset({
    "test_hostile.py::test_hostile_answers_fail_their_checks_in_bounded_time_and_memory",
    "test_hostile.py::test_the_deadline_ends_a_stage_and_marks_its_unfinished_checks",
    "test_hostile_profiles.py::test_hostile_yaml_is_refused_quickly_with_the_file_named",
    "test_hostile_profiles.py::test_alias_bomb_and_deep_nesting_through_the_cli",
    "test_detect2_hang.py::test_a_fifo_as_profile_is_refused_without_opening_it",
    "test_probe.py::test_slow_or_dead_webhooks_do_not_delay_probing",
})


# Files whose module fixture is costly (a gate run, init --from on two apps, generated probes, a browser): under
# pytest-xdist all their tests go to one worker, so the fixture runs once. Every other test is scheduled on its
# own. (xdist's `loadgroup` cannot do this on pytest 9.2: it renames nodeids through an attribute pytest no
# longer reads.)
ONE_WORKER_FILES = frozenset({"test_thirdparty_apps.py", "test_ci_output.py", "test_html_report.py", "test_fuzz.py",
                              "test_detect2_faults.py", "test_e2e_diagnosis.py"})


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--cpu-report FILE`: where the suite's CPU goes (benchmarks/suite_cpu.py reads it)."""
    parser.addoption("--cpu-report", default=None,
                     help="append each test's CPU seconds (its worker's and the children it reaped) as JSON lines")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """With --cpu-report: one line per test, CPU of setup, call and teardown (children once they are reaped)."""
    report = item.config.getoption("--cpu-report")
    if not report:
        yield
        return
    before, started, at = os.times(), time.monotonic(), time.time()
    yield
    after = os.times()
    line = {"test": item.nodeid, "cpu_s": round(sum(after[:4]) - sum(before[:4]), 2),
            "wall_s": round(time.monotonic() - started, 2), "start": round(at, 2), "pid": os.getpid()}
    with open(report, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    """Hypothesis run in this test process (pure tests of fuzz strategies, coverage's pattern examples) keeps its
    files in a temporary folder: a `.hypothesis/` left in the checkout would fail the fuzz stage's test that the
    stage keeps its files out of the project. Set in this process only; stage children choose their own."""
    from hypothesis.configuration import set_hypothesis_home_dir

    home = Path(tempfile.mkdtemp(prefix="synthgate-selftest-hypothesis-"))
    set_hypothesis_home_dir(home)
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))


def short_name(nodeid: str) -> str:
    """`file.py::test_name` of a test id, its parameters and class left out: how the sets above name tests."""
    path, _, rest = nodeid.partition("::")
    return f"{Path(path).name}::{rest.split('[', 1)[0].split('::')[-1]}"


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist's load scheduling, with the tests of each ONE_WORKER_FILES file kept together, and the serial
    tier's two lanes (SERIAL_WAITING_TESTS and the others) each on one worker."""
    from xdist.scheduler import LoadScopeScheduling

    serial = config.getoption("markexpr", "") == "serial"

    class Scheduler(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if serial:
                return "serial: waiting" if short_name(nodeid) in SERIAL_WAITING_TESTS else "serial: latency"
            path = nodeid.split("::", 1)[0]
            return path if Path(path).name in ONE_WORKER_FILES else nodeid

    return Scheduler(config, log)


# The longest tests (measured in `make test`, 2026-12-07: 25 s and more on a worker), handed out first: a long test
# started last would finish alone while the other workers idle. Only an order; nothing is left out.
LONGEST_FIRST = frozenset({
    "test_fuzz_stage.py::test_healthy_demo_passes_every_round_without_flake",
    "test_fuzz_stage.py::test_fault_fails_the_gate_with_a_curl_that_reproduces_it",
    "test_e2e_stage.py::test_browser_fault_fails_the_gate_naming_the_step_with_evidence",
    "test_e2e_stage.py::test_healthy_demo_passes_smoke_and_e2e_with_one_check_per_journey_step",
    "test_e2e_stage.py::test_user_pytest_playwright_tests_run_in_synthgates_chromium",
    "test_e2e_stage.py::test_secrets_never_reach_traces_logs_or_reports",
    "test_baseline_source.py::test_a_gate_compares_with_the_zipped_reports_of_the_last_run",
    "test_secret_registry.py::test_no_secret_of_any_kind_reaches_any_artefact",
    "test_cold_start.py::test_slow_first_calls_fail_the_gate_through_the_cold_checks_only",
    "test_cold_start.py::test_healthy_target_passes_every_cold_check",
    "test_demo_target.py::test_openapi_passes_schemathesis_default_checks",
    "test_shared_state.py::test_three_locations_with_quorum_two_open_one_incident_and_send_one_alert",
    "test_rollout.py::test_latency_regression_is_stopped_at_the_first_traffic_step",
    "test_rollout.py::test_healthy_version_reaches_100",
    "test_user_checks.py::test_a_conftest_provides_the_target_through_the_plugin_hook",
    "test_load_cluster.py::test_a_killed_worker_makes_the_run_inconclusive_and_a_mismatched_worker_is_refused",
    "test_install.py::test_init_from_a_live_target_then_a_team_check",  # the longest of the wheel's tests (run last)
})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the slow tests (`make check` runs the others) and the serial ones (SERIAL_FILES, SERIAL_TESTS); hand
    out the longest first (LONGEST_FIRST); run the tests of the installed wheel last (it is built in the background
    meanwhile: installed_wheel.prebuild)."""
    def order(item: pytest.Item) -> tuple[bool, bool]:
        uses_wheel = bool(installed_wheel.USERS & set(getattr(item, "fixturenames", ())))
        return uses_wheel, short_name(item.nodeid) not in LONGEST_FIRST

    items.sort(key=order)
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        name = short_name(item.nodeid)
        if item.path.name in SERIAL_FILES or name in SERIAL_TESTS | SERIAL_WAITING_TESTS:
            item.add_marker(pytest.mark.serial)
        if (item.path.name in SLOW_FILES or name in SLOW_TESTS or params.get("db_target") == "postgres"
                or SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def cli():
    """The CLI runner."""
    return run_cli


@pytest.fixture
def cli_in_process():
    """The CLI run in this process, for usage errors decided before any stage starts."""
    return run_cli_in_process


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep rollback locks and run history of self-tests out of the user's home."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("SYNTHGATE_LOCK_DIR", str(home / "locks"))
    monkeypatch.setenv("SYNTHGATE_HOME", str(home))
    for name in ("SYNTHGATE_BASE_URL", "API_URL", "GITHUB_ACTIONS", "GITLAB_CI", "SYNTHGATE_DB"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def demo_target() -> Iterator[object]:
    """A healthy embedded demo target for one test module."""
    from synthgate.demo.server import EmbeddedTarget

    with EmbeddedTarget() as target:
        yield target


@pytest.fixture(scope="session")
def chromium(playwright):  # noqa: ANN001 - pytest-playwright's session-wide sync Playwright
    """One headless Chromium for the whole session, found and launched the way the e2e stage does it.

    It reuses pytest-playwright's Playwright instance: a second sync Playwright in the same thread fails.
    """
    from synthgate.e2e.browser import discover

    browser = playwright.chromium.launch(**discover().launch_kwargs())
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One throwaway PostgreSQL cluster for the session (tests/self/pg.py); its URL."""
    from pg import cluster

    with cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store location on each backend: a SQLite path, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    from pg import fresh_database

    return fresh_database(request.getfixturevalue("postgres_url"), f"t_{abs(hash(request.node.nodeid)) % 10**12}")


import installed_wheel  # noqa: E402
from installed_wheel import installed, prebuild, wheel  # noqa: E402, F401 - session fixtures: the wheel in a fresh venv
