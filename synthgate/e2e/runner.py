"""Running the profile's journeys in one headless Chromium: a fresh context per journey, one result per step.

The runner uses Playwright's async API in a thread of its own, so journeys can share one browser
concurrently (`e2e.parallel`) while pytest-playwright's sync fixtures stay usable in the same process.
A failed journey runs again in a fresh context (`e2e.retries`); the last attempt's evidence is kept.

This module is the session: the browser on its event-loop thread, the journeys and their attempts, retries,
tracing and evidence. The rooms it uses: `steps` (what each step does), `journey_page` (the page a journey
drives), `page_events` (what the page logs), `browser_ops` (bounded calls, hung pages), `slots` (`e2e.parallel`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from synthgate import auth
from synthgate.e2e import canary, evidence
from synthgate.e2e.browser import BrowserChoice, BrowserNotFound, discover
from synthgate.e2e.browser_ops import HUNG, TEARDOWN_S, close_context, short, stop_trace
from synthgate.e2e.journey_page import JourneyPage, uses_secrets
from synthgate.e2e.learn import learn_context
from synthgate.e2e.plan import JourneySpec, PlannedStep, attempts, journey_budget_s, plan
from synthgate.e2e.slots import Slot, Slots
from synthgate.e2e.step_result import JourneyRun, StepFailed, StepResult
from synthgate.e2e.steps import report_watch, run_steps
from synthgate.http import expand
from synthgate.profile.model import Profile
from synthgate.redact import redactor
from synthgate.reports import har

__all__ = ["HUNG", "BrowserLaunchError", "BrowserSession", "JourneyRun", "Runner", "StepFailed", "StepResult",
           "run_journeys", "vitals_script"]

T = TypeVar("T")


def vitals_script() -> str:
    """The in-page web-vitals observer (PerformanceObserver for FCP, LCP, CLS)."""
    return resources.files("synthgate.e2e").joinpath("vitals.js").read_text(encoding="utf-8")


class Runner:
    """Runs every journey of a profile against one base URL, in one browser."""

    def __init__(self, profile: Profile, base_url: str, reports_dir: Path, choice: BrowserChoice) -> None:
        self.profile = profile
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self.origin = (parts.scheme, parts.netloc)
        self.reports_dir = reports_dir
        self.choice = choice
        self.started = time.monotonic()
        self.results: dict[str, StepResult] = {}
        self.hung_journeys: set[str] = set()

    def same_origin(self, url: str) -> bool:
        """Whether a URL is on the target's own origin."""
        parts = urlsplit(url)
        return (parts.scheme, parts.netloc) == self.origin

    async def run(self, browser: Any) -> None:
        """Run the journeys in `browser` (concurrently where allowed), each in a fresh context."""
        slots = Slots(self.profile.e2e.parallel)

        async def in_slot(journey: JourneySpec) -> None:
            async with Slot(slots) as slot:
                await self.journey(browser, journey, slot)

        await asyncio.gather(*(in_slot(j) for j in self.profile.journeys if j.parallel))
        for journey in [j for j in self.profile.journeys if not j.parallel]:
            await self.journey(browser, journey)

    def fail_all(self, message: str, kind: str) -> None:
        """Every step of every journey failed for one reason (no browser, no Playwright)."""
        for journey in self.profile.journeys:
            for step in plan(journey):
                self.results[step.check_id] = StepResult(step.check_id, "failed", message, kind=kind)

    async def journey(self, browser: Any, journey: JourneySpec, slot: Slot | None = None) -> None:
        """Run one journey, again in a fresh context while it fails and retries remain."""
        steps = plan(journey)
        first_failure: StepResult | None = None
        results: list[StepResult] = []
        produced: set[str] = set()  # evidence files of every attempt
        for attempt in range(1, attempts(self.profile, journey) + 1):
            results = []
            budget = journey_budget_s(self.profile, journey)
            try:
                final = attempt == attempts(self.profile, journey)
                await asyncio.wait_for(self.attempt(browser, journey, steps, results, final, slot), budget)
            except TimeoutError:
                results += [StepResult(s.check_id, "failed", f"the journey did not finish within {budget:.0f} s",
                                       kind="error") for s in steps[len(results):]]
            failed = next((r for r in results if r.status == "failed"), None)
            for r in results:
                r.attempts = attempt
                produced.update(r.evidence)
            if failed is None:
                if first_failure is not None:
                    for r in results:
                        r.flaky = True
                        r.details["first_failure"] = f"{first_failure.check_id}: {first_failure.message}"[:300]
                break
            if first_failure is None:
                first_failure = failed
            if failed.kind in ("no-data", "unreachable") or journey.id in self.hung_journeys:
                break  # the runner's own problem, or a page that never yields: running again gives the same answer
        kept = {item for r in results for item in r.evidence}
        for stale in produced - kept:  # an earlier attempt's evidence that the last attempt did not renew
            (self.reports_dir / stale).unlink(missing_ok=True)
        for r in results:
            self.results[r.check_id] = r

    async def attempt(self, browser: Any, journey: JourneySpec, steps: list[PlannedStep],
                      results: list[StepResult], final: bool = True, slot: Slot | None = None) -> None:
        """One attempt: fresh context, the steps in order, evidence if a step failed on the `final` attempt.

        Only the last possible attempt is traced (unless `e2e.trace: always`): a failure before it is retried,
        and only the last attempt's evidence is kept, so tracing the earlier ones would cost a healthy run
        time for nothing.
        """
        cfg = self.profile.e2e
        # the final attempt's network as a HAR, kept (redacted) only when the journey fails: reports/har/<journey>.har
        har_raw = self.reports_dir.resolve() / ".work" / f"har-{journey.id}.har"
        har_args = har.browser_context_args(har_raw) if final else {}
        context = await browser.new_context(
            viewport={"width": cfg.viewport.width, "height": cfg.viewport.height},
            locale=cfg.locale,
            ignore_https_errors=cfg.ignore_https_errors,
            **har_args,
            storage_state=auth.browser_state(),  # the cookies the gate's one login left (auth: section)
        )
        tracing = cfg.trace == "always" or (cfg.trace == "on-failure" and final)
        evidence_wanted = final or cfg.trace == "always"
        try:
            await self._synthetic_headers(context)
            await context.add_init_script(script=vitals_script() + canary.INIT_SCRIPT)  # one call: one round trip
            xss_hits: list[str] = []

            def on_xss(_source: Any, url: Any) -> None:
                xss_hits.append(str(url))

            await context.expose_binding(canary.BINDING, on_xss)
            if tracing:
                # a journey that types a secret records no screencast: the pixels cannot be scrubbed
                await context.tracing.start(screenshots=not uses_secrets(journey), snapshots=True,
                                            title=journey.id)
            interactions: list[dict[str, Any]] = []

            def on_interaction(_source: Any, item: Any) -> None:
                if isinstance(item, dict):
                    interactions.append(item)

            await context.expose_binding("__synthgateInteraction", on_interaction)
            page = await context.new_page()
            page.set_default_timeout(self._expect_ms(journey))
            page.set_default_navigation_timeout((journey.timeout_s or cfg.timeout_s) * 1000)
            state = JourneyPage(self.profile, journey, page, self.base_url, self.started, slot)
            state.interactions = interactions
            state.xss_hits = xss_hits
            await run_steps(state, steps, results, self.reports_dir, screenshots=evidence_wanted)
            hung = state.hung is not None
            if not hung and cfg.watch_pages:
                await state.settle()  # the last page, too, is watched a moment after the last step
                report_watch(state, results)
            await state.listener.finish_recording()
            if hung:
                self.hung_journeys.add(journey.id)
            # cookies and storage values are secrets before any trace is written (a hung page's storage cannot
            # be read: its trace is not kept either)
            try:
                await asyncio.wait_for(learn_context(context, pages_answer=not hung), TEARDOWN_S)
            except TimeoutError:
                hung = True
            failed = [r for r in results if r.status == "failed"]
            saved: list[str] = []
            if tracing:
                keep = (bool(failed) or cfg.trace == "always") and not hung
                saved += await self._stop_trace(context, journey.id, keep)
            if failed and (evidence_wanted or hung):  # a hung journey is not retried: its first attempt is the last
                log = evidence.evidence_dir(self.reports_dir) / f"{journey.id}.console.log"
                evidence.write_console_log(log, state.listener.log)
                saved.append(evidence.relative(log, self.reports_dir))
                for r in failed:
                    r.evidence += saved
        finally:
            await close_context(browser, context)  # Playwright writes the HAR now
        if har_args:
            failed_now = [r for r in results if r.status == "failed"]
            kept = har.keep_browser_har(har_raw, self.reports_dir, journey.id, bool(failed_now))
            if kept:
                for r in failed_now:
                    r.evidence.append(kept)

    def _expect_ms(self, journey: JourneySpec) -> float:
        return (journey.expect_timeout_s or self.profile.e2e.expect_timeout_s) * 1000

    async def _synthetic_headers(self, context: Any) -> None:
        mode = self.profile.e2e.synthetic_headers
        headers = {k: str(v) for k, v in expand(self.profile.headers, self.profile).items()}
        if mode == "none" or not headers:
            return
        if mode == "all":
            await context.set_extra_http_headers(headers)
            return

        async def add_headers(route: Any) -> None:
            merged = {**await route.request.all_headers(), **headers}
            await route.continue_(headers=merged)

        # only the target's own origin sees the marker: third-party hosts would reject an unknown header
        await context.route(lambda url: self.same_origin(url), add_headers)

    async def _stop_trace(self, context: Any, journey_id: str, keep: bool) -> list[str]:
        """Stop the attempt's trace; kept (scrubbed) in the evidence folder when `keep`."""
        path = evidence.evidence_dir(self.reports_dir) / f"{journey_id}.trace.zip" if keep else None
        if not await stop_trace(context, path) or path is None:
            return []
        try:
            evidence.scrub_trace(path)
        except Exception:  # noqa: BLE001 - a trace is evidence, not a verdict: never fail the step for it
            path.unlink(missing_ok=True)
            return []
        return [evidence.relative(path, self.reports_dir)]


class BrowserLaunchError(Exception):
    """The browser was found but could not be started (or Playwright is missing)."""


class BrowserSession:
    """One headless Chromium kept open on an event loop of its own; `run` runs a profile's journeys in it.

    The loop lives in its own thread: Playwright's async API must not meet pytest-playwright's sync loop, and
    a caller (the e2e suite, a benchmark, a probe) stays plain blocking code. One session serves many runs.
    """

    def __init__(self, choice: BrowserChoice | None = None) -> None:
        self.choice = choice or discover()  # BrowserNotFound propagates: the caller reports the install hint
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="synthgate-browser", daemon=True)
        self._playwright: Any = None
        self._browser: Any = None
        self.launch_s = 0.0

    def __enter__(self) -> BrowserSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, coro: Awaitable[T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)  # type: ignore[arg-type]

    def start(self, timeout_s: float = 60.0) -> None:
        """Start Playwright and launch the browser; BrowserLaunchError when it cannot start."""
        try:
            from playwright.async_api import async_playwright
        except ImportError:
            raise BrowserLaunchError("Playwright is not installed: pip install playwright "
                                     "(synthgate depends on it)") from None
        self._thread.start()
        started = time.monotonic()

        async def launch() -> None:
            self._playwright = await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(**self.choice.launch_kwargs())

        try:
            self._call(launch(), timeout_s)
        except Exception as exc:  # noqa: BLE001 - a browser that cannot start is the runner's problem
            self.close()
            raise BrowserLaunchError(f"could not start Chromium {self.choice.describe()}: {short(exc)}") from None
        self.launch_s = time.monotonic() - started

    def run(self, profile: Profile, base_url: str, reports_dir: Path) -> JourneyRun:
        """Run every journey of the profile; each step's result, failures included; never raises."""
        started = time.monotonic()
        runner = Runner(profile, base_url, reports_dir, self.choice)
        try:
            self._call(runner.run(self._browser))
        except Exception as exc:  # noqa: BLE001 - reported as failed steps
            message = redactor(f"the journey runner crashed: {exc.__class__.__name__}: {short(exc)}")
            for step in [s for j in profile.journeys for s in plan(j)]:
                runner.results.setdefault(step.check_id, StepResult(step.check_id, "failed", message, kind="error"))
        return JourneyRun(runner.results, self.choice.describe(), time.monotonic() - started)

    def close(self) -> None:
        """Close the browser and Playwright, stop the loop."""
        if not self._thread.is_alive():
            return

        async def stop() -> None:
            if self._browser is not None:
                await self._browser.close()
            if self._playwright is not None:
                await self._playwright.stop()

        try:
            self._call(stop(), 30)
        except Exception:  # noqa: BLE001 - closing is best effort; the driver exits with this process
            pass
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()


def run_journeys(profile: Profile, base_url: str, reports_dir: Path,
                 choice: BrowserChoice | None = None) -> JourneyRun:
    """Launch a browser, run every journey of the profile, close it; failures are results, never raised."""
    started = time.monotonic()
    try:
        with BrowserSession(choice) as session:
            run = session.run(profile, base_url, reports_dir)
            run.duration_s = time.monotonic() - started
            return run
    except (BrowserNotFound, BrowserLaunchError) as exc:
        runner = Runner(profile, base_url, reports_dir, choice or BrowserChoice(None, "none"))
        runner.fail_all(str(exc), "no-data")
        return JourneyRun(runner.results, runner.choice.describe(), time.monotonic() - started)
