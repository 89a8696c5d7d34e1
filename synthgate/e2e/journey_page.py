"""A journey's page: one attempt's page and what its steps share - opening pages, filling and clicking, waiting
for texts, reading web vitals, checking languages - each call bounded (`browser_ops.PageCalls`).

What the page logs is its `listener` (`page_events`); the operations of the planned steps are in `steps`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from synthgate import version_pin
from synthgate.e2e import webvitals
from synthgate.e2e.browser_ops import EVALUATE_S, UNREACHABLE, PageCalls, poll, seconds, short
from synthgate.e2e.page_events import PageListener
from synthgate.e2e.plan import JourneySpec
from synthgate.e2e.slots import Slot
from synthgate.e2e.step_result import StepFailed
from synthgate.e2e.watch import PageWatch
from synthgate.http import TemplateError, expand
from synthgate.profile.e2e import TextExpect, ToggleJourney, Vitals
from synthgate.profile.model import Profile

VITAL_NAMES = {"fcp": "FCP", "lcp": "LCP", "cls": "CLS", "inp": "INP"}
_SECRET_TEMPLATE = re.compile(r"\$\{(secrets|env)\.")
FAIL_FAST_GRACE_S = 0.4  # after a failed form request, how long a dialog or a late navigation may still come


def norm(text: str) -> str:
    """Whitespace runs as one space, trimmed."""
    return " ".join(text.split())


def is_secret(value: Any) -> bool:
    """Whether a profile value is a secret's template (`${secrets.X}`, `${env.X}`)."""
    return isinstance(value, str) and bool(_SECRET_TEMPLATE.search(value))


def uses_secrets(journey: JourneySpec) -> bool:
    """Whether a journey types a secret (its trace then records no screencast frames)."""
    return bool(_SECRET_TEMPLATE.search(journey.model_dump_json()))


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


class JourneyPage(PageCalls):
    """One attempt at one journey: its page, what the page logged, and the helpers its steps share."""

    def __init__(self, profile: Profile, journey: JourneySpec, page: Any, base_url: str, started: float,
                 slot: Slot | None = None) -> None:
        cfg = profile.e2e
        super().__init__(page, (journey.timeout_s or cfg.timeout_s) * 1000)
        self.profile = profile
        self.journey = journey
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self.origin = (parts.scheme, parts.netloc)
        self.slot = slot or Slot()  # lent to the next journey while this one only waits (vitals' quiet window)
        self.expect_ms = (journey.expect_timeout_s or cfg.expect_timeout_s) * 1000
        self.vitals: dict[str, Any] | None = None
        self.secret_selectors: set[str] = set()
        self.before_submit: str = ""
        self.details: dict[str, Any] = {}
        self.action_started = time.monotonic()  # when the last action step began: what a failure is traced to
        self.interactions: list[dict[str, Any]] = []  # reported by vitals.js, across the attempt's navigations
        self.xss_hits: list[str] = []  # pages the XSS canary ran on (canary.INIT_SCRIPT reports them)
        watch = PageWatch([re.compile(p) for p in [*cfg.ignore_console, *getattr(journey, "ignore_console", [])]],
                          [re.compile(p) for p in getattr(journey, "ignore_requests", [])])
        self.listener = PageListener(page, journey.id, self.same_origin, started, watch, cfg.ignore_console)
        self.events = self.listener.events
        self.watch = self.listener.watch

    def same_origin(self, url: str) -> bool:
        """Whether a URL is on the target's own origin."""
        parts = urlsplit(url)
        return (parts.scheme, parts.netloc) == self.origin

    async def settle(self) -> None:
        """Let the current page show what it does right after showing itself (e2e.settle_ms of quiet)."""
        cfg = self.profile.e2e
        if not cfg.watch_pages or self.hung is not None or self.page.url in ("", "about:blank"):
            return
        left = self.watch.quiet_left_s(cfg.settle_ms / 1000, time.monotonic())
        if left > 0:
            with self.slot.waiting():  # only waiting: another journey may work meanwhile
                await asyncio.sleep(left)


    def url(self, path: str) -> str:
        """An absolute URL on the target for a path (absolute URLs pass through)."""
        if path.startswith(("http://", "https://")):
            return path
        return urljoin(self.base_url + "/", path.lstrip("/"))

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
            text = short(exc)
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
        secret = is_secret(value)
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
            raise StepFailed(f"cannot fill {selector}: {short(exc)}") from None

    async def click(self, selector: str) -> None:
        """Click an element (waiting up to the expect timeout for it to be clickable)."""
        try:
            await self.page.locator(selector).click(timeout=self.expect_ms)
        except Exception as exc:  # noqa: BLE001
            raise StepFailed(f"cannot click {selector}: {short(exc)}") from None

    async def texts_of(self, selector: str | None) -> str | None:
        """The texts of the elements matching `selector` (the body: None), or None while there are none."""
        try:
            if selector is None:
                return norm(await self.page.locator("body").inner_text(timeout=self.expect_ms))
            texts = await self.bounded(self.page.locator(selector).all_inner_texts(), EVALUATE_S,
                                       f"reading {selector}")
            return norm(" ".join(texts)) if texts else None
        except StepFailed:
            if self.hung:
                raise
            return None  # slow to answer, not hung: probe again
        except Exception:  # noqa: BLE001 - a page mid-navigation has no body yet: probe again
            return None

    async def expect_texts(self, texts: list[TextExpect], present: bool = True, context: str = "") -> str:
        """Wait until every text shows (or, with present=False, none shows); StepFailed otherwise."""
        for item in texts:
            want = norm(str(self.expand(item.text)))
            where = item.selector or "the page"

            async def probe(selector: str | None = item.selector) -> str | None:
                return await self.texts_of(selector)

            def ok(got: str | None, want: str = want) -> bool:
                return (got is not None and want in got) == present

            got = await poll(probe, ok, self.expect_ms, stop=self.dialog_shown)
            if not ok(got):
                prefix = f"{context}: " if context else ""
                if present and got is None:
                    waited = "stopped at the dialog" if self.dialog_shown() else f"waited {seconds(self.expect_ms)}"
                    raise StepFailed(f"{prefix}expected {want!r} in {where}, but no element matches {where} "
                                     f"({waited}; at {self.page.url})")
                shown = (got or "")[:160]
                verb = "expected" if present else "did not expect"
                waited = "stopped at the dialog" if self.dialog_shown() else f"waited {seconds(self.expect_ms)}"
                raise StepFailed(f"{prefix}{verb} {want!r} in {where} ({waited}; "
                                 f"at {self.page.url}; it shows {shown!r})")
        return f"shows {', '.join(repr(t.text) for t in texts)}" if present else "none of the texts shows"

    def dialog_shown(self) -> bool:
        """Whether the page showed a dialog since the last action, a grace period ago: what it waits for
        will not come (the dialog is named in the step's message)."""
        return any(at >= self.action_started and time.monotonic() - at >= FAIL_FAST_GRACE_S
                   for at, _, _ in self.events.dialogs)

    async def read_vitals(self) -> dict[str, Any] | None:
        """The page's web vitals so far (None when the page is gone)."""
        try:
            return await self.evaluate("() => window.__synthgateVitals ? window.__synthgateVitals() : null")
        except StepFailed:
            raise
        except Exception:  # noqa: BLE001
            return None

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
                raise StepFailed(f"{what} did not navigate within {seconds(self.timeout_ms)} "
                                 f"(still at {url}); expected a URL matching {pattern.pattern!r}")
            await asyncio.sleep(0.05)

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
                return {"total": 0, "wrong": [{"element": "document", "got": short(exc), "want": ""}]}
        for selector, per_lang in j.texts.items():
            want = norm(per_lang[lang])
            got = await self.texts_of(selector)
            state["total"] += 1
            if got is None or want not in got:
                state["wrong"].append({"element": selector, "got": (got or "(no such element)")[:60], "want": want})
        return state

    async def expect_language(self, lang: str, context: str) -> str:
        """Every translated element shows `lang` (waiting up to the expect timeout)."""

        async def probe() -> dict[str, Any]:
            return await self._translation_state(lang)

        state = await poll(probe, lambda s: s["total"] > 0 and not s["wrong"] and not s.get("fake"), self.expect_ms)
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
