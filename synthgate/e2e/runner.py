"""Running the profile's journeys in one headless Chromium: a fresh context per journey, one result per step.

The runner uses Playwright's async API in a thread of its own, so journeys can share one browser
concurrently (`e2e.parallel`) while pytest-playwright's sync fixtures stay usable in the same process.
A failed journey runs again in a fresh context (`e2e.retries`); the last attempt's evidence is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from synthgate import auth, version_pin
from synthgate.checks import seen
from synthgate.e2e import canary, evidence, webvitals
from synthgate.e2e.a11y import scan as a11y_scan
from synthgate.e2e.browser import BrowserChoice, BrowserNotFound, discover
from synthgate.e2e.diagnosis import PageEvents
from synthgate.e2e.learn import learn_context
from synthgate.e2e.plan import (
    A11Y_STEP_S,
    HANG_PROBE_S,
    JourneySpec,
    PlannedStep,
    attempts,
    journey_budget_s,
    plan,
    step_limit_s,
)
from synthgate.e2e.slots import Slot, Slots
from synthgate.e2e.watch import PageWatch, describe
from synthgate.http import TemplateError, expand
from synthgate.profile.e2e import FormJourney, JourneyStep, TextExpect, ToggleJourney, Vitals
from synthgate.profile.model import Profile
from synthgate.redact import redactor
from synthgate.reports import har

StepStatus = Literal["passed", "failed", "skipped"]
T = TypeVar("T")
VITAL_NAMES = {"fcp": "FCP", "lcp": "LCP", "cls": "CLS", "inp": "INP"}
# Chromium's network errors that mean "no connection at all": the runner's problem, not the deployment's.
UNREACHABLE = ("ERR_NAME_NOT_RESOLVED", "ERR_CONNECTION_TIMED_OUT", "ERR_ADDRESS_UNREACHABLE",
               "ERR_INTERNET_DISCONNECTED", "ERR_NAME_RESOLUTION_FAILED", "ERR_NETWORK_UNREACHABLE")
_SECRET_TEMPLATE = re.compile(r"\$\{(secrets|env)\.")
# Checks whose message already is the list of what the page reported: no "during the step" suffix.
SELF_DIAGNOSED = frozenset({"no_console_errors", "no_page_errors", "no_failed_requests", "third_party_requests"})
FAIL_FAST_GRACE_S = 0.4  # after a failed form request, how long a dialog or a late navigation may still come
# A page whose script never yields answers no evaluation: after a call timed out, one `1 + 1` this long decides.
TEARDOWN_S = 10.0  # each of: learning the context's storage, stopping a trace, closing the context
EVALUATE_S = 5.0  # an evaluation in the page (vitals, translations, storage) that never answers is a hung page
A11Y_S = A11Y_STEP_S - 2  # injecting and running axe-core
HUNG = "the page's script never yielded"
WATCH_EVERY_S = 3.0  # while a navigation waits for `load`, how often the page is asked whether it still answers


def vitals_script() -> str:
    """The in-page web-vitals observer (PerformanceObserver for FCP, LCP, CLS)."""
    return resources.files("synthgate.e2e").joinpath("vitals.js").read_text(encoding="utf-8")


@dataclass
class StepResult:
    """The outcome of one journey step: what the e2e suite reports as one check."""

    check_id: str
    status: StepStatus
    message: str = ""
    duration_ms: float = 0.0
    kind: str | None = None
    evidence: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1
    flaky: bool = False


@dataclass
class JourneyRun:
    """Every step result of one run of the journeys."""

    results: dict[str, StepResult]
    browser: str = ""
    duration_s: float = 0.0

    def result(self, check_id: str) -> StepResult:
        """The result of one step (a step the run never reached counts as failed)."""
        found = self.results.get(check_id)
        if found is None:
            return StepResult(check_id, "failed", "the journey runner produced no result for this step", kind="error")
        return found


class StepFailed(Exception):
    """A step's expectation did not hold (or its action could not be done)."""

    def __init__(self, message: str, kind: str = "assertion", fatal: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.fatal = fatal


async def answers(page: Any) -> bool:
    """Whether the page's main thread still runs scripts (False: it never yields; a closed page is not hung)."""
    try:
        await asyncio.wait_for(page.evaluate("() => 1 + 1"), HANG_PROBE_S)
    except TimeoutError:
        return False
    except Exception:  # noqa: BLE001 - closed, crashed or navigating: not a spinning script
        return True
    return True


def _norm(text: str) -> str:
    return " ".join(text.split())


def _short(exc: BaseException) -> str:
    """A Playwright error in one line: its first line, plus what it was waiting for."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip() and not ln.strip().startswith("=")]
    head = lines[0] if lines else exc.__class__.__name__
    waiting = next((ln for ln in lines[1:] if ln.startswith(("waiting for", "- waiting for"))), "")
    return (head + (f" ({waiting.lstrip('- ')})" if waiting else ""))[:400]


def _is_secret(value: Any) -> bool:
    return isinstance(value, str) and bool(_SECRET_TEMPLATE.search(value))


def _uses_secrets(journey: JourneySpec) -> bool:
    """Whether a journey types a secret (its trace then records no screencast frames)."""
    return bool(_SECRET_TEMPLATE.search(journey.model_dump_json()))


def _seconds(ms: float) -> str:
    return f"{ms / 1000:g} s"


async def _poll(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout_ms: float,
                stop: Callable[[], bool] | None = None) -> T:
    """Call `probe` until `ok(result)`, the timeout, or `stop()`; the last result either way."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        value = await probe()
        if ok(value) or time.monotonic() >= deadline or (stop is not None and stop()):
            return value
        await asyncio.sleep(0.1)


# A text that is no translation: a translation key (dotted or snake identifier) or a {{placeholder}}.
_KEY_JS = "/^[A-Za-z][A-Za-z0-9]*(?:[._][A-Za-z0-9]+)+$/"
_TRANSLATIONS_JS = """
([attrs, target, source]) => {
  const norm = (s) => (s || "").replace(/\\s+/g, " ").trim();
  const key = (s) => KEY.test(s) || /\\{\\{[^}]*\\}\\}/.test(s);
  const words = (s) => s.split(" ").filter((w) => /\\p{L}/u.test(w)).length;
  const out = { total: 0, wrong: [], fake: [] };
  for (const el of document.querySelectorAll(attrs.map((a) => `[${a}]`).join(""))) {
    const want = norm(el.getAttribute(target));
    const original = norm(el.getAttribute(source));
    const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "");
    if (!want) {
      if (target !== source && original) { out.total += 1; out.fake.push({ element: name, got: "", why: "empty" }); }
      continue;
    }
    out.total += 1;
    const field = el.tagName === "INPUT" || el.tagName === "TEXTAREA";
    const got = norm(field ? el.placeholder || el.value : el.textContent);
    if (got !== want) {
      out.wrong.push({ element: name, got: got.slice(0, 60), want: want.slice(0, 60) });
    } else if (key(got)) {
      out.fake.push({ element: name, got: got.slice(0, 60), why: "a translation key" });
    } else if (target !== source && got === original && words(got) >= 3) {
      out.fake.push({ element: name, got: got.slice(0, 60), why: "the source language's text" });
    }
  }
  return out;
}
""".replace("KEY", _KEY_JS)


class _Journey:
    """One attempt at one journey: its context, page, what the page logged, and the step operations."""

    def __init__(self, runner: Runner, journey: JourneySpec, page: Any, slot: Slot | None = None) -> None:
        self.runner = runner
        self.slot = slot or Slot()  # lent to the next journey while this one only waits (vitals' quiet window)
        self.profile = runner.profile
        self.journey = journey
        self.page = page
        cfg = runner.profile.e2e
        self.timeout_ms = (journey.timeout_s or cfg.timeout_s) * 1000
        self.expect_ms = (journey.expect_timeout_s or cfg.expect_timeout_s) * 1000
        self.console: list[dict[str, str]] = []
        self.page_errors: list[str] = []
        self.bad_requests: list[str] = []
        self.log: list[str] = []
        self.vitals: dict[str, Any] | None = None
        self.secret_selectors: set[str] = set()
        self.before_submit: str = ""
        self.details: dict[str, Any] = {}
        self.events = PageEvents()
        self.action_started = time.monotonic()  # when the last action step began: what a failure is traced to
        self.interactions: list[dict[str, Any]] = []  # reported by vitals.js, across the attempt's navigations
        self.hung: str | None = None  # set once the page's script stopped yielding: the rest cannot run
        self.watch = PageWatch([re.compile(p) for p in [*cfg.ignore_console, *getattr(journey, "ignore_console", [])]],
                               [re.compile(p) for p in getattr(journey, "ignore_requests", [])])
        self.xss_hits: list[str] = []  # pages the XSS canary ran on (canary.INIT_SCRIPT reports them)
        self._seen_tasks: set[asyncio.Task[None]] = set()
        page.on("load", lambda _page: self.watch.activity())
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)
        page.on("dialog", self._on_dialog)

    # ---- what the page logs ---------------------------------------------------------------------

    def _stamp(self) -> str:
        return f"{time.monotonic() - self.runner.started:8.3f}s"

    def _on_console(self, message: Any) -> None:
        location = message.location or {}
        where = f"{location.get('url', '')}:{location.get('lineNumber', '')}" if location.get("url") else ""
        entry = {"type": message.type, "text": message.text, "where": where, "url": location.get("url") or ""}
        self.console.append(entry)
        if message.type == "error" and not self._third_party_console(entry):
            self.watch.console_error(self.page.url, message.text)
        self.log.append(f"{self._stamp()} console.{message.type}: {message.text}" + (f"  ({where})" if where else ""))

    def _on_page_error(self, error: Any) -> None:
        text = getattr(error, "message", None) or str(error)
        self.page_errors.append(text)
        self.events.error(text)
        self.watch.uncaught(self.page.url, text)
        stack = getattr(error, "stack", None) or ""
        self.log.append(f"{self._stamp()} uncaught exception: {text}" + (f"\n{stack}" if stack else ""))

    def _same_origin(self, url: str) -> bool:
        return self.runner.same_origin(url)

    def _on_request_failed(self, request: Any) -> None:
        line = f"{request.method} {request.url} failed: {request.failure}"
        self.log.append(f"{self._stamp()} request {line}")
        same = self._same_origin(request.url)
        if same:
            self.bad_requests.append(line)
            self.watch.request_failed(self.page.url, request.method, request.url, request.resource_type, None,
                                      str(request.failure))
        self.events.request_failed(same, request.method, request.url, request.resource_type,
                                   error=str(request.failure))

    def _on_response(self, response: Any) -> None:
        if self._same_origin(response.url):
            self.watch.activity()
            task = asyncio.ensure_future(self._record_seen(response))
            self._seen_tasks.add(task)
            task.add_done_callback(self._seen_tasks.discard)
        if response.status >= 400:
            line = f"{response.request.method} {response.url} answered {response.status}"
            self.log.append(f"{self._stamp()} response {line}")
            same = self._same_origin(response.url)
            if same:
                self.bad_requests.append(line)
                self.watch.request_failed(self.page.url, response.request.method, response.url,
                                          response.request.resource_type, response.status, None)
            self.events.request_failed(same, response.request.method, response.url,
                                       response.request.resource_type, status=response.status)

    async def _record_seen(self, response: Any) -> None:
        """The answer's cookies and caching headers, for hygiene over everything the run saw (checks.seen)."""
        try:
            sent = await response.request.all_headers()
            got = await response.headers_array()
        except Exception:  # noqa: BLE001 - a closed context: nothing more to record
            return
        seen.record(seen.entry(response.request.method, response.url, response.status, sent.items(),
                               [(h["name"], h["value"]) for h in got], by=f"journey {self.journey.id}"))

    async def finish_recording(self) -> None:
        """Wait (briefly) for the answers still being recorded."""
        if self._seen_tasks:
            await asyncio.wait(set(self._seen_tasks), timeout=2.0)

    async def settle(self) -> None:
        """Let the current page show what it does right after showing itself (e2e.settle_ms of quiet)."""
        cfg = self.profile.e2e
        if not cfg.watch_pages or self.hung is not None or self.page.url in ("", "about:blank"):
            return
        left = self.watch.quiet_left_s(cfg.settle_ms / 1000, time.monotonic())
        if left > 0:
            await asyncio.sleep(left)

    async def _on_dialog(self, dialog: Any) -> None:
        self.log.append(f"{self._stamp()} dialog ({dialog.type}): {dialog.message} (dismissed)")
        self.events.dialog(dialog.type, dialog.message)
        await dialog.dismiss()

    # ---- helpers --------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """An absolute URL on the target for a path (absolute URLs pass through)."""
        if path.startswith(("http://", "https://")):
            return path
        return urljoin(self.runner.base_url + "/", path.lstrip("/"))

    def expand(self, value: Any) -> Any:
        """Resolve ${vars.X}/${secrets.X} templates; a bad reference fails the step as a profile error."""
        try:
            return expand(value, self.profile)
        except TemplateError as exc:
            raise StepFailed(f"profile error: {exc}", kind="error") from None

    async def goto(self, path: str, status: int | None, fatal: bool = True) -> int | None:
        """Open a page; StepFailed when it cannot be opened or answers another status."""
        await self.settle()  # the page being left is watched a moment longer
        try:
            response = await self.navigate(self.page.goto(self.url(path), wait_until="load", timeout=self.timeout_ms),
                                           f"opening {path}")
        except StepFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - every navigation error becomes a step failure
            text = _short(exc)
            if "Timeout" in text:
                await self.raise_if_hung(f"opening {path} timed out")
            kind = "unreachable" if any(code in text for code in UNREACHABLE) else "assertion"
            raise StepFailed(f"GET {path} could not be opened: {text}", kind=kind, fatal=fatal) from None
        code = response.status if response is not None else None
        self.details.update(status=code, url=self.page.url)
        # pinned (synthgate rollout): the main document must come from the pinned version, else no evidence
        other = version_pin.mismatch(httpx.Response(code, headers=response.headers)) if response is not None else None
        if other is not None:
            raise StepFailed(f"GET {path}: {other}", kind="no-data", fatal=True)
        if status is not None and code is not None and code != status:
            raise StepFailed(f"GET {path} answered {code}, expected {status} (at {self.page.url})")
        if status is None and code is not None and code >= 400:
            raise StepFailed(f"GET {path} answered {code} (at {self.page.url})")
        return code

    async def fill(self, selector: str, value: str | bool) -> None:
        """Fill one field: text inputs and textareas, <select> by value or label, checkboxes by bool."""
        secret = _is_secret(value)
        resolved = self.expand(value)
        if secret:
            self.secret_selectors.add(selector)
        locator = self.page.locator(selector)
        try:
            if isinstance(resolved, bool):
                await locator.set_checked(resolved, timeout=self.expect_ms)
                return
            text = resolved if isinstance(resolved, str) else str(resolved)
            try:
                await locator.fill(text, timeout=self.expect_ms)
            except Exception as exc:  # noqa: BLE001 - a <select> cannot be filled: choose its option instead
                if "not an <input>" not in str(exc):
                    raise
                await locator.select_option(text, timeout=self.expect_ms)
        except StepFailed:
            raise
        except Exception as exc:  # noqa: BLE001
            raise StepFailed(f"cannot fill {selector}: {_short(exc)}") from None

    async def click(self, selector: str) -> None:
        """Click an element (waiting up to the expect timeout for it to be clickable)."""
        try:
            await self.page.locator(selector).click(timeout=self.expect_ms)
        except Exception as exc:  # noqa: BLE001
            raise StepFailed(f"cannot click {selector}: {_short(exc)}") from None

    async def _texts_of(self, selector: str | None) -> str | None:
        try:
            if selector is None:
                return _norm(await self.page.locator("body").inner_text(timeout=self.expect_ms))
            texts = await self.bounded(self.page.locator(selector).all_inner_texts(), EVALUATE_S,
                                       f"reading {selector}")
            return _norm(" ".join(texts)) if texts else None
        except StepFailed:
            if self.hung:
                raise
            return None  # slow to answer, not hung: probe again
        except Exception:  # noqa: BLE001 - a page mid-navigation has no body yet: probe again
            return None

    async def expect_texts(self, texts: list[TextExpect], present: bool = True, context: str = "") -> str:
        """Wait until every text shows (or, with present=False, none shows); StepFailed otherwise."""
        for item in texts:
            want = _norm(str(self.expand(item.text)))
            where = item.selector or "the page"

            async def probe(selector: str | None = item.selector) -> str | None:
                return await self._texts_of(selector)

            def ok(got: str | None, want: str = want) -> bool:
                return (got is not None and want in got) == present

            got = await _poll(probe, ok, self.expect_ms, stop=self.dialog_shown)
            if not ok(got):
                prefix = f"{context}: " if context else ""
                if present and got is None:
                    waited = "stopped at the dialog" if self.dialog_shown() else f"waited {_seconds(self.expect_ms)}"
                    raise StepFailed(f"{prefix}expected {want!r} in {where}, but no element matches {where} "
                                     f"({waited}; at {self.page.url})")
                shown = (got or "")[:160]
                verb = "expected" if present else "did not expect"
                waited = "stopped at the dialog" if self.dialog_shown() else f"waited {_seconds(self.expect_ms)}"
                raise StepFailed(f"{prefix}{verb} {want!r} in {where} ({waited}; "
                                 f"at {self.page.url}; it shows {shown!r})")
        return f"shows {', '.join(repr(t.text) for t in texts)}" if present else "none of the texts shows"

    def dialog_shown(self) -> bool:
        """Whether the page showed a dialog since the last action, a grace period ago: what it waits for
        will not come (the dialog is named in the step's message)."""
        return any(at >= self.action_started and time.monotonic() - at >= FAIL_FAST_GRACE_S
                   for at, _, _ in self.events.dialogs)

    async def navigate(self, call: Awaitable[T], what: str) -> T:
        """A navigation (goto, reload), watched: while it waits for the load event, a page that stops answering
        scripts twice in a row is hung, and the step fails then instead of at the navigation timeout."""
        nav = asyncio.ensure_future(call)
        deadline = time.monotonic() + self.timeout_ms / 1000 + 5
        try:
            while True:
                done, _ = await asyncio.wait({nav}, timeout=WATCH_EVERY_S)
                if done:
                    return nav.result()
                if not await answers(self.page) and not await answers(self.page):
                    await self.raise_if_hung(f"{what} never reached the load event", known=True)
                if time.monotonic() >= deadline:
                    await self.raise_if_hung(f"{what} got no answer")
                    raise StepFailed(f"{what} got no answer within {_seconds(self.timeout_ms)}")
        finally:
            if not nav.done():
                nav.cancel()
            elif not nav.cancelled():
                nav.exception()  # retrieved: a failed navigation after the hang was found is not an unhandled error

    async def raise_if_hung(self, what: str, known: bool = False) -> None:
        """StepFailed (fatal) when the page's script no longer yields (`known`: the caller found it did not);
        the journey's later steps are not run."""
        if self.hung is None and not known and await answers(self.page):
            return
        if self.hung is None:
            self.hung = (f"{HUNG}: {what}, and the page then answered no script for {HANG_PROBE_S:g} s "
                         f"(a busy loop or a script that never returns; at {self.page.url})")
        raise StepFailed(self.hung, fatal=True)

    async def bounded(self, call: Awaitable[T], seconds: float, what: str) -> T:
        """`call` within `seconds`; past it, StepFailed: the hung-page message if the page no longer answers."""
        try:
            return await asyncio.wait_for(call, seconds)
        except TimeoutError:
            await self.raise_if_hung(f"{what} got no answer within {seconds:g} s")
            raise StepFailed(f"{what} got no answer within {seconds:g} s (at {self.page.url})") from None

    async def evaluate(self, script: str, arg: Any = None, seconds: float = EVALUATE_S) -> Any:
        """page.evaluate, bounded: a page whose script never yields fails the step as hung."""
        return await self.bounded(self.page.evaluate(script, arg), seconds, "a script run in the page")

    async def read_vitals(self) -> dict[str, Any] | None:
        """The page's web vitals so far (None when the page is gone)."""
        try:
            return await self.evaluate("() => window.__synthgateVitals ? window.__synthgateVitals() : null")
        except StepFailed:
            raise
        except Exception:  # noqa: BLE001
            return None

    def console_errors(self, ignore: list[str]) -> list[str]:
        """Console errors not matching the journey's or the profile's ignore patterns."""
        patterns = [re.compile(p) for p in [*ignore, *self.profile.e2e.ignore_console]]
        return [c["text"] + (f" ({c['where']})" if c["where"] else "") for c in self.console
                if c["type"] == "error" and not any(p.search(c["text"]) for p in patterns)
                and not self._third_party_console(c)]

    def _third_party_console(self, entry: dict[str, str]) -> bool:
        """A console error that only reports a failing cross-origin resource (the third-party check has it)."""
        url = entry.get("url", "")
        if not url or self._same_origin(url) or url.startswith(("data:", "blob:")):
            return False
        return url in self.events.third_party_urls() or entry["text"].startswith("Failed to load resource")

    async def observe_vitals(self, budgets: Vitals) -> dict[str, Any] | None:
        """The page's vitals once LCP and CLS are final enough to judge (see `webvitals.observation_done`)."""
        deadline = time.monotonic() + budgets.max_observe_ms / 1000
        with self.slot.waiting():  # seconds of quiet window: another journey works meanwhile
            while True:
                vitals = await self.read_vitals()
                left_ms = webvitals.observation_left_ms(vitals, budgets.quiet_ms, budgets.lcp_ms,
                                                        budgets.max_observe_ms)
                remaining_s = deadline - time.monotonic()
                if left_ms == 0.0 or remaining_s <= 0:
                    break
                # the window can only end later than this (its marks only move forward): no read before then
                await asyncio.sleep(min(remaining_s, max(0.02, (left_ms or 100.0) / 1000)))
        if vitals is not None:
            self.details.update(lcp_element=vitals.get("lcp_element"), lcp_candidates=vitals.get("lcp_candidates"),
                                layout_shifts=vitals.get("shifts"), observed_ms=round(float(vitals.get("now") or 0)))
            if vitals.get("cls_sources"):
                self.details["cls_sources"] = vitals["cls_sources"]
        return vitals

    def inp_vitals(self) -> dict[str, Any]:
        """INP over every interaction of this attempt, in the shape `check_vital` reads."""
        value, worst, count = webvitals.inp(self.interactions)
        self.details.update(interactions=count)
        if worst is not None:
            self.details.update(inp_event=worst.get("name"), inp_target=worst.get("target"),
                                inp_page=worst.get("page"))
        return {"inp": value}

    def check_vital(self, metric: str, budget: float, vitals: dict[str, Any] | None) -> str:
        """One web vital against its budget."""
        name = VITAL_NAMES[metric]
        value = (vitals or {}).get(metric)
        unit = "" if metric == "cls" else " ms"
        shown = f"{value:.3f}" if metric == "cls" and value is not None else f"{value:.0f}" if value is not None else ""
        self.details.update({metric: value, f"{metric}_budget": budget})
        if value is None and metric == "inp":
            return "no interaction was slow enough to time (INP under 16 ms)"
        if value is None:
            raise StepFailed(f"no {name} was recorded: the page painted no content (blank page?)")
        if value > budget:
            limit = f"{budget:g}" if metric == "cls" else f"{budget:.0f}"
            raise StepFailed(f"{name} {shown}{unit} is over the budget of {limit}{unit}")
        return f"{name} {shown}{unit} (budget {budget:g}{unit})"

    # ---- language toggles -----------------------------------------------------------------------

    def _toggle(self) -> ToggleJourney:
        assert isinstance(self.journey, ToggleJourney)
        return self.journey

    async def _translation_state(self, lang: str) -> dict[str, Any]:
        j = self._toggle()
        state: dict[str, Any] = {"total": 0, "wrong": [], "fake": []}
        if j.attribute is not None:
            attrs = [j.attribute.replace("{lang}", code) for code in j.languages]
            source = j.attribute.replace("{lang}", j.languages[0])
            try:
                state = await self.evaluate(_TRANSLATIONS_JS, [attrs, j.attribute.replace("{lang}", lang), source])
            except StepFailed:
                raise
            except Exception as exc:  # noqa: BLE001 - mid-navigation: probe again
                return {"total": 0, "wrong": [{"element": "document", "got": _short(exc), "want": ""}]}
        for selector, per_lang in j.texts.items():
            want = _norm(per_lang[lang])
            got = await self._texts_of(selector)
            state["total"] += 1
            if got is None or want not in got:
                state["wrong"].append({"element": selector, "got": (got or "(no such element)")[:60], "want": want})
        return state

    async def expect_language(self, lang: str, context: str) -> str:
        """Every translated element shows `lang` (waiting up to the expect timeout)."""

        async def probe() -> dict[str, Any]:
            return await self._translation_state(lang)

        state = await _poll(probe, lambda s: s["total"] > 0 and not s["wrong"] and not s.get("fake"), self.expect_ms)
        fake = state.get("fake") or []
        self.details.update(translated=state["total"], untranslated=len(state["wrong"]) + len(fake))
        if state["total"] == 0:
            raise StepFailed(f"{context}: no element carries the translation attributes or texts to check")
        if fake and not state["wrong"]:
            first = fake[0]
            raise StepFailed(f"{context}: {len(fake)} of {state['total']} translated elements show no real {lang} "
                             f"text, e.g. <{first['element']}> shows {first['got']!r} ({first['why']})")
        if state["wrong"]:
            first = state["wrong"][0]
            raise StepFailed(f"{context}: {len(state['wrong'])} of {state['total']} translated elements do not "
                             f"show the {lang} text, e.g. <{first['element']}> shows {first['got']!r} instead of "
                             f"{first['want']!r}")
        return f"all {state['total']} translated elements show the {lang} text"

    async def html_lang(self, lang: str) -> str:
        """<html lang> names `lang` (zh matches zh, zh-CN, zh_Hans...)."""
        value = await self.evaluate("() => document.documentElement.lang")
        code = (value or "").lower().replace("_", "-")
        if code != lang.lower() and not code.startswith(lang.lower() + "-"):
            raise StepFailed(f"<html lang> is {value!r}, expected {lang!r}")
        return f"<html lang={value!r}>"

    async def stored_language(self, lang: str) -> str:
        """The storage key holds the chosen language."""
        j = self._toggle()
        assert j.storage_key is not None
        area = "localStorage" if j.storage == "local" else "sessionStorage"
        value = await self.evaluate(f"(k) => window.{area}.getItem(k)", j.storage_key)
        want = j.storage_values.get(lang, lang)
        if value != want:
            raise StepFailed(f"{area}[{j.storage_key!r}] is {value!r}, expected {want!r}")
        return f"{area}[{j.storage_key!r}] = {value!r}"

    async def language_applied(self, lang: str, context: str) -> str:
        """Texts, <html lang> and storage all say `lang`; every broken part is named."""
        j = self._toggle()
        messages, problems = [], []
        checks: list[Callable[[], Awaitable[str]]] = [lambda: self.expect_language(lang, context)]
        if j.html_lang:
            checks.append(lambda: self.html_lang(lang))
        if j.storage_key:
            checks.append(lambda: self.stored_language(lang))
        for check in checks:
            try:
                messages.append(await check())
            except StepFailed as exc:
                problems.append(exc.message)
        if problems:
            raise StepFailed("; ".join(problems))
        return "; ".join(messages)

    async def click_language(self, lang: str) -> str:
        """Click the flipping toggle, or `lang`'s own button."""
        j = self._toggle()
        selector = j.toggle if j.toggle is not None else (j.buttons or {})[lang]
        await self.click(selector)
        return selector

    # ---- operations of the planned steps ---------------------------------------------------------

    async def op_goto(self, arg: dict[str, Any]) -> str:
        code = await self.goto(arg["path"], arg.get("status"))
        started = time.monotonic()
        budgets = getattr(self.journey, "vitals", None)
        if budgets is not None:
            self.vitals = await self.observe_vitals(budgets)  # LCP until quiet after load; CLS with late shifts
        left_ms = arg.get("settle_ms", 0) - (time.monotonic() - started) * 1000
        if left_ms > 0:
            await asyncio.sleep(left_ms / 1000)  # late console errors
        if budgets is None:
            self.vitals = await self.read_vitals()
        return f"GET {arg['path']} answered {code}"

    async def op_expect_text(self, texts: list[TextExpect]) -> str:
        return await self.expect_texts(texts)

    async def op_no_console_errors(self, ignore: list[str]) -> str:
        self.watch.judged_until = time.monotonic()
        errors = self.console_errors(ignore)
        if errors:
            raise StepFailed(f"{len(errors)} console error(s): " + " | ".join(errors[:3]))
        return "no console error"

    async def op_no_page_errors(self, _: Any) -> str:
        self.watch.judged_until = time.monotonic()
        if self.page_errors:
            raise StepFailed(f"{len(self.page_errors)} uncaught exception(s): " + " | ".join(self.page_errors[:3]))
        return "no uncaught exception"

    async def op_no_failed_requests(self, ignore: list[str]) -> str:
        self.watch.judged_until = time.monotonic()
        patterns = [re.compile(p) for p in ignore]
        bad = [line for line in self.bad_requests if not any(p.search(line) for p in patterns)]
        if bad:
            raise StepFailed(f"{len(bad)} same-origin request(s) failed: " + " | ".join(bad[:3]))
        return "every same-origin request succeeded"

    async def op_third_party_requests(self, arg: dict[str, Any]) -> str:
        patterns = [re.compile(p) for p in arg.get("ignore", [])]
        failed = [r for r in self.events.third_party if not any(p.search(r.url) for p in patterns)]
        self.details["third_party_failed"] = [r.describe(same_origin=False) for r in failed[:20]]
        if not failed:
            return "every cross-origin resource loaded"
        shown = " | ".join(r.describe(same_origin=False) for r in failed[:3])
        message = f"{len(failed)} cross-origin resource(s) failed: {shown}"
        if arg.get("fatal"):
            raise StepFailed(message)
        self.details["warning"] = True
        return f"warning: {message} (not fatal: set third_party: fail in the journey to fail on it)"

    async def op_vital(self, arg: tuple[str, float]) -> str:
        return self.check_vital(arg[0], arg[1], self.vitals)

    async def op_a11y(self, _: Any) -> str:
        try:
            found = await self.bounded(a11y_scan(self.page, self.profile.e2e.a11y), A11Y_S, "axe-core")
        except StepFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - a closed or navigating page: nothing was measured
            raise StepFailed(f"axe-core could not run in the page: {_short(exc)}", kind="no-data") from None
        self.details.update(found.details())
        if found.failing:
            raise StepFailed(found.message)
        return found.message

    async def op_inp(self, budget: float) -> str:
        await asyncio.sleep(0.1)  # an interaction's entry arrives after its next paint
        return self.check_vital("inp", budget, self.inp_vitals())

    async def op_fill_fields(self, fields: dict[str, str | bool]) -> str:
        for selector, value in fields.items():
            await self.fill(selector, value)
        return f"filled {len(fields)} field(s)"

    async def wait_for_navigation(self, before: str, pattern: re.Pattern[str], what: str, since: float) -> None:
        """Wait until the URL leaves `before` (or matches); fail at once when a dialog or a failed form
        request since `since` says the submission failed, instead of waiting out the timeout."""
        started = time.monotonic()
        deadline = started + self.timeout_ms / 1000
        failure_seen: float | None = None
        while True:
            url = self.page.url
            if url != before or pattern.search(url):
                return
            now = time.monotonic()
            if failure_seen is None and self.events.form_failure(since):
                failure_seen = now
            # a short grace after the first failure signal: the alert usually follows the failed request
            if failure_seen is not None and now - failure_seen >= FAIL_FAST_GRACE_S:
                why = self.events.form_failure(since)
                raise StepFailed(f"{what} did not navigate: {why} (failed after {now - started:.1f} s, "
                                 f"still at {url}; expected a URL matching {pattern.pattern!r})")
            if now >= deadline:
                raise StepFailed(f"{what} did not navigate within {_seconds(self.timeout_ms)} "
                                 f"(still at {url}); expected a URL matching {pattern.pattern!r}")
            await asyncio.sleep(0.05)

    async def op_submit(self, arg: dict[str, Any]) -> str:
        before = self.page.url
        pattern = re.compile(arg["url"])
        clicked = time.monotonic()
        await self.click(arg["submit"])
        await self.wait_for_navigation(before, pattern, f"clicking {arg['submit']}", clicked)
        try:
            await self.page.wait_for_load_state("domcontentloaded", timeout=self.timeout_ms)
        except Exception as exc:  # noqa: BLE001
            raise StepFailed(f"after clicking {arg['submit']}: {_short(exc)}") from None
        self.details["url"] = self.page.url
        if not pattern.search(self.page.url):
            raise StepFailed(f"submitting landed on {self.page.url}, expected a URL matching {arg['url']!r}")
        return f"landed on {self.page.url}"

    async def op_submit_invalid(self, arg: dict[str, Any]) -> str:
        await self.goto(arg["path"], None)
        for selector, value in arg["fields"].items():
            await self.fill(selector, value)
        self.before_submit = self.page.url
        await self.click(arg["submit"])
        return await self.expect_texts(arg["error"], context="after an invalid submission")

    async def op_stays_on_page(self, _: Any) -> str:
        if self.page.url.split("#")[0] != self.before_submit.split("#")[0]:
            raise StepFailed(f"the invalid submission navigated from {self.before_submit} to {self.page.url}")
        return f"stayed at {self.page.url}"

    async def _canary_field(self, j: FormJourney) -> str | None:
        """The text field the canary goes into: the profile's, else one the destination shows back."""
        if isinstance(j.xss_canary, str):
            return j.xss_canary
        shown = {str(self.expand(t.text)) for t in j.destination.texts}
        ordered = canary.candidates(dict(j.fields), shown)
        text_fields = await self.evaluate(canary.TEXT_FIELDS_JS, ordered) if ordered else []
        return next((s for s in ordered if s in text_fields), None)

    async def op_xss_canary(self, _: Any) -> str:
        j = self.journey
        assert isinstance(j, FormJourney)
        await self.goto(j.path, j.status)
        selector = await self._canary_field(j)
        if selector is None:
            return "no free-text field to carry the XSS canary: nothing to check"
        marker, value = canary.make()
        self.details["canary_field"] = selector
        for field_selector, field_value in j.fields.items():
            await self.fill(field_selector, value if field_selector == selector else field_value)
        before = self.page.url
        clicked = time.monotonic()
        await self.click(j.submit)
        with contextlib.suppress(StepFailed):  # refused or not: the canary is judged wherever the page is
            await self.wait_for_navigation(before, re.compile(j.destination.url), f"clicking {j.submit}", clicked)

        async def body() -> str | None:
            return await self._texts_of(None)

        await _poll(body, lambda text: text is not None and marker in text, self.expect_ms)  # rendered back
        await self.settle()
        ran = list(self.xss_hits)
        if not ran and await self.evaluate("() => window.__sg_xss === 1"):
            ran.append(self.page.url)
        self.details["url"] = self.page.url
        if ran:
            raise StepFailed(f"the XSS canary typed into {selector} ran as script on {', '.join(sorted(set(ran)))}: "
                             f"the page renders what a user typed as HTML (stored XSS)")
        return f"the canary typed into {selector} never ran (at {self.page.url})"

    async def op_language_shown(self, lang: str) -> str:
        return await self.expect_language(lang, "on first load")

    async def op_switch_language(self, lang: str) -> str:
        selector = await self.click_language(lang)
        return await self.expect_language(lang, f"after clicking {selector}")

    async def op_html_lang(self, lang: str) -> str:
        return await self.html_lang(lang)

    async def op_stored_language(self, lang: str) -> str:
        return await self.stored_language(lang)

    async def op_reload_keeps_language(self, lang: str) -> str:
        try:
            await self.navigate(self.page.reload(wait_until="load", timeout=self.timeout_ms), "reloading")
        except StepFailed:
            raise
        except Exception as exc:  # noqa: BLE001
            raise StepFailed(f"reload failed: {_short(exc)}", fatal=True) from None
        return await self.language_applied(lang, "after a reload")

    async def op_switch_back(self, lang: str) -> str:
        selector = await self.click_language(lang)
        return await self.language_applied(lang, f"after clicking {selector} again")

    async def op_step(self, step: JourneyStep) -> str:
        return await getattr(self, f"step_{step.action}")(step)

    # ---- `steps` journeys ------------------------------------------------------------------------

    async def step_goto(self, step: JourneyStep) -> str:
        assert step.goto is not None
        code = await self.goto(step.goto, step.status, fatal=False)
        self.vitals = await self.read_vitals()
        return f"GET {step.goto} answered {code} (at {self.page.url})"

    async def step_click(self, step: JourneyStep) -> str:
        assert step.click is not None
        await self.click(step.click)
        return f"clicked {step.click}"

    async def step_fill(self, step: JourneyStep) -> str:
        return await self.op_fill_fields(dict(step.fill or {}))

    async def step_select(self, step: JourneyStep) -> str:
        for selector, value in (step.select or {}).items():
            try:
                await self.page.locator(selector).select_option(str(self.expand(value)), timeout=self.expect_ms)
            except Exception as exc:  # noqa: BLE001
                raise StepFailed(f"cannot select in {selector}: {_short(exc)}") from None
        return "selected"

    async def _set_checked(self, selector: str, checked: bool) -> str:
        try:
            await self.page.locator(selector).set_checked(checked, timeout=self.expect_ms)
        except Exception as exc:  # noqa: BLE001
            raise StepFailed(f"cannot {'check' if checked else 'uncheck'} {selector}: {_short(exc)}") from None
        return f"{'checked' if checked else 'unchecked'} {selector}"

    async def step_check(self, step: JourneyStep) -> str:
        return await self._set_checked(str(step.check), True)

    async def step_uncheck(self, step: JourneyStep) -> str:
        return await self._set_checked(str(step.uncheck), False)

    async def step_press(self, step: JourneyStep) -> str:
        key = str(step.press)
        try:
            if step.on:
                await self.page.locator(step.on).press(key, timeout=self.expect_ms)
            else:
                await self.page.keyboard.press(key)
        except Exception as exc:  # noqa: BLE001
            raise StepFailed(f"cannot press {key}: {_short(exc)}") from None
        return f"pressed {key}"

    async def step_reload(self, step: JourneyStep) -> str:
        try:
            await self.navigate(self.page.reload(wait_until="load", timeout=self.timeout_ms), "reloading")
        except StepFailed:
            raise
        except Exception as exc:  # noqa: BLE001
            raise StepFailed(f"reload failed: {_short(exc)}", fatal=True) from None
        return "reloaded"

    async def step_wait_for(self, step: JourneyStep) -> str:
        try:
            await self.page.locator(str(step.wait_for)).first.wait_for(state="visible", timeout=self.expect_ms)
        except Exception as exc:  # noqa: BLE001
            raise StepFailed(f"{step.wait_for} did not become visible: {_short(exc)}") from None
        return f"{step.wait_for} is visible"

    async def step_expect_url(self, step: JourneyStep) -> str:
        pattern = re.compile(str(step.expect_url))

        async def probe() -> str:
            return str(self.page.url)

        def settled(u: str) -> bool:
            # a dialog or failed form request since the last action: the URL will not change any more
            return bool(pattern.search(u)) or self.events.form_failure(self.action_started) is not None

        url = await _poll(probe, settled, self.expect_ms)
        self.details["url"] = url
        if not pattern.search(url):
            raise StepFailed(f"the page is at {url}, expected a URL matching {step.expect_url!r}")
        return f"at {url}"

    async def step_expect_text(self, step: JourneyStep) -> str:
        return await self.expect_texts(list(step.expect_text or []))

    async def step_expect_no_text(self, step: JourneyStep) -> str:
        return await self.expect_texts(list(step.expect_no_text or []), present=False)

    async def _visibility(self, selector: str, state: Literal["visible", "hidden"]) -> str:
        try:
            await self.page.locator(selector).first.wait_for(state=state, timeout=self.expect_ms)
        except Exception as exc:  # noqa: BLE001
            raise StepFailed(f"expected {selector} to be {state}: {_short(exc)}") from None
        return f"{selector} is {state}"

    async def step_expect_visible(self, step: JourneyStep) -> str:
        return await self._visibility(str(step.expect_visible), "visible")

    async def step_expect_hidden(self, step: JourneyStep) -> str:
        return await self._visibility(str(step.expect_hidden), "hidden")

    async def step_expect_title(self, step: JourneyStep) -> str:
        pattern = re.compile(str(step.expect_title))
        async def title() -> str:
            return str(await self.bounded(self.page.title(), EVALUATE_S, "reading the title"))

        title = await _poll(title, lambda t: bool(pattern.search(t)), self.expect_ms)
        if not pattern.search(title):
            raise StepFailed(f"the title is {title!r}, expected it to match {step.expect_title!r}")
        return f"title {title!r}"

    async def step_expect_storage(self, step: JourneyStep) -> str:
        for key, want in (step.expect_storage or {}).items():
            value = await self.evaluate("(k) => window.localStorage.getItem(k)", key)
            expected = self.expand(want) if want is not None else None
            if value != expected:
                raise StepFailed(f"localStorage[{key!r}] is {value!r}, expected {expected!r}")
        return "storage as expected"

    async def step_expect_no_console_errors(self, step: JourneyStep) -> str:
        return await self.op_no_console_errors([])

    async def step_expect_vitals(self, step: JourneyStep) -> str:
        budgets: Vitals = step.expect_vitals or Vitals()
        vitals = {**(await self.observe_vitals(budgets) or {}), **self.inp_vitals()}
        messages, problems = [], []
        for metric, budget in (("fcp", budgets.fcp_ms), ("lcp", budgets.lcp_ms), ("cls", budgets.cls),
                               ("inp", budgets.inp_ms)):
            if budget is None:
                continue
            try:
                messages.append(self.check_vital(metric, budget, vitals))
            except StepFailed as exc:
                problems.append(exc.message)
        if problems:
            raise StepFailed("; ".join(problems))
        return "; ".join(messages)


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
                await context.tracing.start(screenshots=not _uses_secrets(journey), snapshots=True,
                                            title=journey.id)
            interactions: list[dict[str, Any]] = []

            def on_interaction(_source: Any, item: Any) -> None:
                if isinstance(item, dict):
                    interactions.append(item)

            await context.expose_binding("__synthgateInteraction", on_interaction)
            page = await context.new_page()
            page.set_default_timeout(self._expect_ms(journey))
            page.set_default_navigation_timeout((journey.timeout_s or cfg.timeout_s) * 1000)
            state = _Journey(self, journey, page, slot)
            state.interactions = interactions
            state.xss_hits = xss_hits
            await self._steps(state, steps, results, screenshots=evidence_wanted)
            hung = state.hung is not None
            if not hung and cfg.watch_pages:
                await state.settle()  # the last page, too, is watched a moment after the last step
                _report_watch(state, results)
            await state.finish_recording()
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
                evidence.write_console_log(log, state.log)
                saved.append(evidence.relative(log, self.reports_dir))
                for r in failed:
                    r.evidence += saved
        finally:
            await self._close(browser, context)  # Playwright writes the HAR now
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

    async def _close(self, browser: Any, context: Any) -> None:
        """Close a context, bounded: closing it ends its renderers, a spinning one included. A context that
        will not close takes the browser with it (the next journey then fails to open a context)."""
        try:
            await asyncio.wait_for(context.close(), TEARDOWN_S)
        except TimeoutError:
            # past this, the stage's process group is killed at its budget
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.close(), TEARDOWN_S)

    async def _stop_trace(self, context: Any, journey_id: str, keep: bool) -> list[str]:
        if not keep:
            with contextlib.suppress(Exception):  # nothing kept either way
                await asyncio.wait_for(context.tracing.stop(), TEARDOWN_S)
            return []
        path = evidence.evidence_dir(self.reports_dir) / f"{journey_id}.trace.zip"
        try:
            await asyncio.wait_for(context.tracing.stop(path=str(path)), TEARDOWN_S)
            evidence.scrub_trace(path)
        except Exception:  # noqa: BLE001 - a trace is evidence, not a verdict: never fail the step for it
            path.unlink(missing_ok=True)
            return []
        return [evidence.relative(path, self.reports_dir)]

    async def _screenshot(self, state: _Journey, step: PlannedStep) -> str | None:
        if self.profile.e2e.screenshot == "off":
            return None
        path = evidence.evidence_dir(self.reports_dir) / f"{step.check_id}.png"
        try:
            mask = [state.page.locator(s) for s in sorted(state.secret_selectors)]
            await state.page.screenshot(path=str(path), mask=mask, timeout=10000)
        except Exception:  # noqa: BLE001 - a closed or navigating page: no screenshot, the failure stands
            return None
        return evidence.relative(path, self.reports_dir)

    async def _steps(self, state: _Journey, steps: list[PlannedStep], results: list[StepResult],
                     screenshots: bool = True) -> None:
        failed_at: str | None = None  # the first failed step since the last fresh start
        skip_from: str | None = None  # once set, non-fresh steps are skipped
        shot: str | None = None  # the screenshot of the page as it is now (observations do not change it)
        for step in steps:
            if not step.observe:
                shot = None
            if step.fresh:
                failed_at = skip_from = None
            if failed_at is not None and not step.observe and skip_from is None:
                skip_from = failed_at
            if state.hung is not None:
                skip_from = skip_from or step.step
            if skip_from is not None:
                why = "the page's script never yielded" if state.hung else "failed earlier in this journey"
                results.append(StepResult(step.check_id, "skipped", f"not run: {state.journey.id}.{skip_from} {why}"))
                continue
            if _navigates(step):
                await state.settle()  # what the page being left does now follows the step that led to it
            state.details = {}
            started = time.monotonic()
            if not step.observe:
                state.action_started = started
                state.watch.action(step.check_id)
            try:
                limit = step_limit_s(self.profile, state.journey, step)
                message = await state.bounded(getattr(state, f"op_{step.op}")(step.arg), limit, f"the step {step.step}")
                results.append(StepResult(step.check_id, "passed", redactor(message or "ok"),
                                          round((time.monotonic() - started) * 1000, 1), details=state.details))
            except StepFailed as exc:
                why = "" if step.op in SELF_DIAGNOSED else state.events.summary(state.action_started)
                if why and why not in exc.message:
                    exc.message += f" - during the step: {why}"
                    state.details["diagnosis"] = why
                result = StepResult(step.check_id, "failed", redactor(exc.message),
                                    round((time.monotonic() - started) * 1000, 1), kind=exc.kind,
                                    details=state.details)
                if screenshots and state.hung is None:  # a hung renderer paints nothing: no screenshot to wait for
                    shot = shot or await self._screenshot(state, step)
                if shot:
                    result.evidence.append(shot)
                results.append(result)
                failed_at = failed_at or step.step
                if exc.fatal:
                    skip_from = step.step
            except Exception as exc:  # noqa: BLE001 - a runner bug or a dead page: one failed step, not a crash
                results.append(StepResult(step.check_id, "failed", redactor(f"{step.op}: {_short(exc)}"),
                                          round((time.monotonic() - started) * 1000, 1), kind="error"))
                failed_at = failed_at or step.step
                skip_from = skip_from or step.step


_NAVIGATING_OPS = frozenset({"goto", "submit_invalid", "xss_canary", "reload_keeps_language"})


def _navigates(step: PlannedStep) -> bool:
    """Whether a step opens another page (or reloads this one) as it starts."""
    if step.op == "step":
        return step.arg.goto is not None or step.arg.reload is not None
    return step.fresh or step.op in _NAVIGATING_OPS


def _report_watch(state: _Journey, results: list[StepResult]) -> None:
    """Each problem a watched page showed fails the action step that led to that page."""
    for check_id, problems in state.watch.by_step().items():
        result = next((r for r in results if r.check_id == check_id), None)
        if result is None or result.status == "skipped":
            continue
        text = redactor(describe(problems))
        result.details["page_problems"] = [redactor(f"{p.what} (on {p.page})") for p in problems[:20]]
        if result.status == "passed":
            result.status, result.message, result.kind = "failed", text, "assertion"
        elif text not in result.message:
            result.message += f"; {text}"


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
            raise BrowserLaunchError(f"could not start Chromium {self.choice.describe()}: {_short(exc)}") from None
        self.launch_s = time.monotonic() - started

    def run(self, profile: Profile, base_url: str, reports_dir: Path) -> JourneyRun:
        """Run every journey of the profile; each step's result, failures included; never raises."""
        started = time.monotonic()
        runner = Runner(profile, base_url, reports_dir, self.choice)
        try:
            self._call(runner.run(self._browser))
        except Exception as exc:  # noqa: BLE001 - reported as failed steps
            message = redactor(f"the journey runner crashed: {exc.__class__.__name__}: {_short(exc)}")
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
