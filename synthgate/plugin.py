"""synthgate's pytest plugin: profile options, parametrisation from the profile, fixtures, result collection.

Registered through the `pytest11` entry point, so `pytest tests/smoke --profile coldcopy --base-url URL` works
in any checkout. The stages run their suites with `--synthgate-results FILE` and read one JSON line per check:
a `CheckResult` (synthgate/results.py), written and read with the same model.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from synthgate import auth, hookspecs, http, plugin_user, procs, run_state, server_errors, version_pin
from synthgate.checks import cold, registry, seen
from synthgate.checks.outcome import Attempted, result_of
from synthgate.plugin_user import USER_ID
from synthgate.profile import Profile, ProfileError, default_profile, load_profile, resolve_base_url
from synthgate.redact import redactor
from synthgate.reports.har import Collector
from synthgate.results import TOOL_ERROR, CheckResult
from synthgate.stage_options import StageOptions
from synthgate.version_pin import VersionPin

USER_PLUGIN = "synthgate-user-checks"
RESULTS_PLUGIN = "synthgate-result-lines"
_PROFILE_KEY = pytest.StashKey[tuple[Profile, Path]]()
_TARGET_KEY = pytest.StashKey[str]()
_RESULTS_KEY = pytest.StashKey[Any]()
_OPTIONS_KEY = pytest.StashKey[StageOptions]()
_RUN_KEY = pytest.StashKey[Any]()  # leaves this session's run (synthgate.run_state) at unconfigure
# the user property under which a test's `sg.set` fields (of synthgate.results.CheckResult) reach the result line
RESULT_PROPERTY = "synthgate"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Register synthgate's hooks (see synthgate/hookspecs.py)."""
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    """synthgate's options (--base-url comes from pytest-base-url, which pytest-playwright brings)."""
    group = parser.getgroup("synthgate")
    group.addoption("--profile", default=os.environ.get("SYNTHGATE_PROFILE") or default_profile(),
                    help="profile path or bundled name (default: SYNTHGATE_PROFILE, ./synthgate.yaml, else demo)")
    group.addoption("--synthgate-results", default=None, help="write one JSON line per check to this file")
    group.addoption("--synthgate-reports", default="reports", help="reports directory (for artefacts)")
    group.addoption("--synthgate-options", default="{}", help="stage options as JSON")
    group.addoption("--synthgate-checks-root", default=None,
                    help="user check ids are file paths relative to this folder (default: the rootdir)")
    group.addoption("--synthgate-user-only", action="store_true", help="run only the team's own checks (probes)")


def sg_profile_of(config: pytest.Config) -> tuple[Profile, Path]:
    """The profile of this run, loaded once; a bad profile is a usage error with the loader's message."""
    if _PROFILE_KEY not in config.stash:
        try:
            profile, path = load_profile(config.getoption("profile"))
        except ProfileError as exc:
            raise pytest.UsageError(str(exc)) from None
        redactor.add_profile(profile)
        pin = VersionPin.from_option(stage_options_of(config).pin)
        if pin is not None:  # synthgate rollout: every request of this stage goes to one version, and must show it
            profile = profile.model_copy(update={"headers": {**profile.headers, **pin.headers}})
            version_pin.activate(pin)
        config.stash[_PROFILE_KEY] = (profile, path)
    return config.stash[_PROFILE_KEY]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise each check kind's fixture (synthgate.checks.registry) with the profile's checks of that kind: one
    test id per planned check."""
    for kind in registry.KINDS:
        if kind.fixture in metafunc.fixturenames:
            profile, _ = sg_profile_of(metafunc.config)
            # a kind for some base URLs only (TLS: https) needs the target now; the others never ask for it
            base_url = target_url(metafunc.config) if kind.applies is not None else None
            checks = registry.kind_plan(kind, profile, base_url)
            metafunc.parametrize(kind.fixture, checks, ids=[c.id for c in checks])


@pytest.fixture(scope="session")
def sg_profile(pytestconfig: pytest.Config) -> Profile:
    """The loaded profile."""
    return sg_profile_of(pytestconfig)[0]


def stage_options_of(config: pytest.Config) -> StageOptions:
    """The stage options the gate passed (`--synthgate-options`), read once; a bad one is a usage error."""
    if _OPTIONS_KEY not in config.stash:
        try:
            config.stash[_OPTIONS_KEY] = StageOptions.from_json(config.getoption("synthgate_options") or "{}")
        except ValidationError as exc:
            raise pytest.UsageError(f"--synthgate-options: {exc}") from None
    return config.stash[_OPTIONS_KEY]


@pytest.fixture(scope="session")
def sg_options(pytestconfig: pytest.Config) -> StageOptions:
    """Stage options passed by the gate (seed, bounds...)."""
    return stage_options_of(pytestconfig)


@pytest.fixture(scope="session")
def sg_reports_dir(pytestconfig: pytest.Config) -> Path:
    """Where stage artefacts go."""
    path = Path(pytestconfig.getoption("synthgate_reports"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def target_url(config: pytest.Config) -> str:
    """The base URL under test, resolved once per run; with none given, a conftest's `pytest_synthgate_target`
    hook may provide one (suites that need the URL at collection time, like fuzz, call this too)."""
    profile, _ = sg_profile_of(config)
    if _TARGET_KEY in config.stash:
        return config.stash[_TARGET_KEY]
    try:
        url, _ = resolve_base_url(config.getoption("base_url", None), profile)
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None
    if not url:
        url = config.hook.pytest_synthgate_target(config=config, profile=profile)  # a conftest may start one
    if not url:
        raise pytest.UsageError("no base URL: pass --base-url, or set SYNTHGATE_BASE_URL or API_URL")
    config.stash[_TARGET_KEY] = url
    return url


@pytest.fixture(scope="session")
def sg_target(pytestconfig: pytest.Config) -> str:
    """The base URL under test (see `target_url`)."""
    return target_url(pytestconfig)


class Recorder:
    """What a test tells the collector about its check: fields of its `CheckResult` (attempts, kind, curl...)."""

    def __init__(self, item: pytest.Item, har: Collector | None = None) -> None:
        self.item = item
        self.har = har or Collector()  # what the transport published while this test ran

    def set(self, **values: Any) -> None:
        """Attach result fields (id, attempts, flaky, kind, curl, evidence, details...) to this test; a name that
        is no field of synthgate.results.CheckResult is a TypeError here, never a key dropped on the way."""
        unknown = sorted(set(values) - set(CheckResult.model_fields))
        if unknown:  # the test code's mistake, not the deployment's: the check is a tool error
            self.item.user_properties.append((RESULT_PROPERTY, {"kind": TOOL_ERROR}))
            raise TypeError(f"sg.set: unknown result field(s) {', '.join(unknown)}; "
                            f"expected any of {', '.join(CheckResult.model_fields)}")
        self.item.user_properties.append((RESULT_PROPERTY, values))

    def attempted(self, check_id: str, result: Attempted) -> None:
        """Record a retried check, attach its exchanges to Allure, and fail the test if it failed."""
        check = result_of(check_id, result)
        if not result.final.ok:  # every exchange of every attempt as a HAR in reports/har/, linked as evidence
            reports_dir = Path(self.item.config.getoption("synthgate_reports"))
            saved = self.har.write(reports_dir, check_id, [ex for o in result.history for ex in o.exchanges])
            if saved:
                check.evidence = [saved]
        # status and message are the test's own (pytest.fail below, or an assertion after this call)
        self.set(**check.model_dump(exclude={"status", "message", "traffic"}))
        _attach_exchanges(result)
        if not result.final.ok:
            pytest.fail(redactor(result.message), pytrace=False)


def _attach_exchanges(result: Attempted) -> None:
    try:
        import allure
    except ImportError:  # allure-pytest is a dependency, but a user may run the suites without it
        return
    for n, outcome in enumerate(result.history, 1):
        for m, ex in enumerate(outcome.exchanges, 1):
            allure.attach(ex.describe(), name=f"attempt {n} request {m}", attachment_type=allure.attachment_type.TEXT)
        if outcome.curl:
            allure.attach(redactor(outcome.curl), name=f"attempt {n} curl", attachment_type=allure.attachment_type.TEXT)


@pytest.fixture
def sg(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    """The recorder of the current test; its HAR collector listens to the run's exchanges while the test runs."""
    recorder = Recorder(request.node)
    with http.events().subscribed(http.Exchanged, recorder.har):
        yield recorder


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Open the results file when the gate asked for one; set up the team's own checks (and their playwright)."""
    if not config.pluginmanager.has_plugin(USER_PLUGIN):
        config.pluginmanager.register(plugin_user, USER_PLUGIN)  # sg_client, ids namespaced by file
    # this session is a run of its own (a stage process of a gate, or a team's pytest): its state and listeners
    config.stash[_RUN_KEY] = run_state.enter(run_state.RunState("pytest session"))
    server_errors.listen()  # what each check sent and how many 5xx came back, for the gate's budget
    cold.listen()  # each endpoint's first request in the gate's run is a cold-start sample
    auth.listen()  # a request whose ${auth.…} session expired logs in again, in this process too
    seen.listen()  # every answer's cookies and caching headers, for hygiene over everything the run saw
    if config.pluginmanager.hasplugin("playwright") and not config.pluginmanager.hasplugin("synthgate-user-e2e"):
        from synthgate.e2e import user_fixtures  # registered last: overrides pytest-playwright's fixtures

        config.pluginmanager.register(user_fixtures, "synthgate-user-e2e")
    path = config.getoption("synthgate_results", None)
    if path:
        procs.die_with_parent()  # a stage process of a gate: it ends with the gate, even one killed with -9
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        config.stash[_RESULTS_KEY] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed at unconfigure
        config.pluginmanager.register(ResultLines(config.stash[_RESULTS_KEY]), RESULTS_PLUGIN)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Close the results file; leave this session's run."""
    handle = config.stash.get(_RESULTS_KEY, None)
    if handle is not None:
        handle.close()
    leave = config.stash.get(_RUN_KEY, None)
    if leave is not None:
        leave()


class ResultLines:
    """Writes one result line per check to the results file (a plugin object on the config, as pytest's junitxml
    keeps its state: a report hook is not given the config)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """One line for this test's outcome."""
        write_result_line(self.handle, report)


def _user_id(report: pytest.TestReport) -> str | None:
    # a team's own check (marked by synthgate.plugin_user, registered in pytest_configure)
    return next((str(v) for k, v in report.user_properties if k == USER_ID), None)


def _check_id(report: pytest.TestReport, props: dict[str, Any]) -> str:
    if "id" in props:
        return str(props["id"])
    name = report.nodeid.split("::")[-1]
    if "[" in name:
        return name[name.index("[") + 1 : -1]
    return name.removeprefix("test_")


def write_result_line(handle: Any, report: pytest.TestReport) -> None:
    """Turn each test's outcome into one result line (call phase, or a setup that failed or skipped)."""
    if report.when == "setup" and report.passed:
        return
    if report.when == "teardown" and not report.failed:
        return
    fields: dict[str, Any] = {}
    for key, value in report.user_properties:
        if key == RESULT_PROPERTY and isinstance(value, dict):
            fields.update(value)
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if "got empty parameter set" in reason:
            return  # the profile declares no check of this kind
        status, message = "skipped", reason
    elif report.failed:
        status, message = "failed", _failure_message(report)
    else:
        status, message = "passed", "passed after a retry" if fields.get("flaky") else "ok"
    kind = fields.get("kind") if status == "failed" else None
    if status == "failed" and kind is None:
        # an error in setup or teardown (a broken fixture or conftest) is the test code's, not the deployment's;
        # a check body that raised or asserted is the team's assertion: a failed check
        kind = TOOL_ERROR if report.when != "call" else "assertion"
    fields.setdefault("duration_ms", round(report.duration * 1000, 1))
    check_id = _user_id(report) or _check_id(report, fields)
    traffic = server_errors.tally().take()  # what this test sent and how many 5xx came back (the 5xx budget)
    try:
        check = CheckResult.model_validate({**fields, "id": check_id, "status": status,
                                            "message": redactor(message), "kind": kind, "traffic": traffic})
    except ValidationError as exc:  # a field of the wrong type: the test code's mistake, said with this check
        check = CheckResult(id=str(check_id), status="failed", kind=TOOL_ERROR, traffic=traffic,
                            message=redactor(f"the test's result fields do not match synthgate's result: {exc}")[:2000])
    handle.write(check.to_line())
    handle.flush()


def _failure_message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if hasattr(longrepr, "reprcrash") and longrepr.reprcrash is not None:  # type: ignore[union-attr]
        text = str(longrepr.reprcrash.message)  # type: ignore[union-attr]
    else:
        text = str(longrepr)
    text = text.removeprefix("Failed: ")
    return text if len(text) < 2000 else text[:2000] + " ..."
