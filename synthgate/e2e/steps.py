"""Steps: what each planned step does (`OPS`, by the plan's op) and each step of a `steps` journey (`STEP_ACTIONS`,
by its action), each a function of the journey's page; `run_steps` runs a journey's plan and gives a result per step.

A new step kind is one handler here, registered in its dict, and its plan in `plan.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

from synthgate.e2e import canary, evidence
from synthgate.e2e.a11y import scan as a11y_scan
from synthgate.e2e.browser_ops import A11Y_S, EVALUATE_S, poll, short
from synthgate.e2e.journey_page import JourneyPage
from synthgate.e2e.plan import PlannedStep, step_limit_s
from synthgate.e2e.step_result import StepFailed, StepResult
from synthgate.e2e.watch import describe
from synthgate.profile.e2e import FormJourney, JourneyStep, TextExpect, Vitals
from synthgate.redact import redactor

# Checks whose message already is the list of what the page reported: no "during the step" suffix.
SELF_DIAGNOSED = frozenset({"no_console_errors", "no_page_errors", "no_failed_requests", "third_party_requests"})


async def op_goto(j: JourneyPage, arg: dict[str, Any]) -> str:
    code = await j.goto(arg["path"], arg.get("status"))
    started = time.monotonic()
    budgets = getattr(j.journey, "vitals", None)
    if budgets is not None:
        j.vitals = await j.observe_vitals(budgets)  # LCP until quiet after load; CLS with late shifts
    left_ms = arg.get("settle_ms", 0) - (time.monotonic() - started) * 1000
    if left_ms > 0:
        await asyncio.sleep(left_ms / 1000)  # late console errors
    if budgets is None:
        j.vitals = await j.read_vitals()
    return f"GET {arg['path']} answered {code}"


async def op_expect_text(j: JourneyPage, texts: list[TextExpect]) -> str:
    return await j.expect_texts(texts)


async def op_no_console_errors(j: JourneyPage, ignore: list[str]) -> str:
    j.watch.judged_until = time.monotonic()
    errors = j.listener.console_errors(ignore)
    if errors:
        raise StepFailed(f"{len(errors)} console error(s): " + " | ".join(errors[:3]))
    return "no console error"


async def op_no_page_errors(j: JourneyPage, _: Any) -> str:
    j.watch.judged_until = time.monotonic()
    if j.listener.page_errors:
        shown = " | ".join(j.listener.page_errors[:3])
        raise StepFailed(f"{len(j.listener.page_errors)} uncaught exception(s): {shown}")
    return "no uncaught exception"


async def op_no_failed_requests(j: JourneyPage, ignore: list[str]) -> str:
    j.watch.judged_until = time.monotonic()
    patterns = [re.compile(p) for p in ignore]
    bad = [line for line in j.listener.bad_requests if not any(p.search(line) for p in patterns)]
    if bad:
        raise StepFailed(f"{len(bad)} same-origin request(s) failed: " + " | ".join(bad[:3]))
    return "every same-origin request succeeded"


async def op_third_party_requests(j: JourneyPage, arg: dict[str, Any]) -> str:
    patterns = [re.compile(p) for p in arg.get("ignore", [])]
    failed = [r for r in j.events.third_party if not any(p.search(r.url) for p in patterns)]
    j.details["third_party_failed"] = [r.describe(same_origin=False) for r in failed[:20]]
    if not failed:
        return "every cross-origin resource loaded"
    shown = " | ".join(r.describe(same_origin=False) for r in failed[:3])
    message = f"{len(failed)} cross-origin resource(s) failed: {shown}"
    if arg.get("fatal"):
        raise StepFailed(message)
    j.details["warning"] = True
    return f"warning: {message} (not fatal: set third_party: fail in the journey to fail on it)"


async def op_vital(j: JourneyPage, arg: tuple[str, float]) -> str:
    return j.check_vital(arg[0], arg[1], j.vitals)


async def op_a11y(j: JourneyPage, _: Any) -> str:
    try:
        found = await j.bounded(a11y_scan(j.page, j.profile.e2e.a11y), A11Y_S, "axe-core")
    except StepFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - a closed or navigating page: nothing was measured
        raise StepFailed(f"axe-core could not run in the page: {short(exc)}", kind="no-data") from None
    j.details.update(found.details())
    if found.failing:
        raise StepFailed(found.message)
    return found.message


async def op_inp(j: JourneyPage, budget: float) -> str:
    await asyncio.sleep(0.1)  # an interaction's entry arrives after its next paint
    return j.check_vital("inp", budget, j.inp_vitals())


async def op_fill_fields(j: JourneyPage, fields: dict[str, str | bool]) -> str:
    for selector, value in fields.items():
        await j.fill(selector, value)
    return f"filled {len(fields)} field(s)"


async def op_submit(j: JourneyPage, arg: dict[str, Any]) -> str:
    before = j.page.url
    pattern = re.compile(arg["url"])
    clicked = time.monotonic()
    await j.click(arg["submit"])
    await j.wait_for_navigation(before, pattern, f"clicking {arg['submit']}", clicked)
    try:
        await j.page.wait_for_load_state("domcontentloaded", timeout=j.timeout_ms)
    except Exception as exc:  # noqa: BLE001
        raise StepFailed(f"after clicking {arg['submit']}: {short(exc)}") from None
    j.details["url"] = j.page.url
    if not pattern.search(j.page.url):
        raise StepFailed(f"submitting landed on {j.page.url}, expected a URL matching {arg['url']!r}")
    return f"landed on {j.page.url}"


async def op_submit_invalid(j: JourneyPage, arg: dict[str, Any]) -> str:
    await j.goto(arg["path"], None)
    for selector, value in arg["fields"].items():
        await j.fill(selector, value)
    j.before_submit = j.page.url
    await j.click(arg["submit"])
    return await j.expect_texts(arg["error"], context="after an invalid submission")


async def op_stays_on_page(j: JourneyPage, _: Any) -> str:
    if j.page.url.split("#")[0] != j.before_submit.split("#")[0]:
        raise StepFailed(f"the invalid submission navigated from {j.before_submit} to {j.page.url}")
    return f"stayed at {j.page.url}"


async def _canary_field(j: JourneyPage, form: FormJourney) -> str | None:
    """The text field the canary goes into: the profile's, else one the destination shows back."""
    if isinstance(form.xss_canary, str):
        return form.xss_canary
    shown = {str(j.expand(t.text)) for t in form.destination.texts}
    ordered = canary.candidates(dict(form.fields), shown)
    text_fields = await j.evaluate(canary.TEXT_FIELDS_JS, ordered) if ordered else []
    return next((s for s in ordered if s in text_fields), None)


async def op_xss_canary(j: JourneyPage, _: Any) -> str:
    form = j.journey
    assert isinstance(form, FormJourney)
    await j.goto(form.path, form.status)
    selector = await _canary_field(j, form)
    if selector is None:
        return "no free-text field to carry the XSS canary: nothing to check"
    marker, value = canary.make()
    j.details["canary_field"] = selector
    for field_selector, field_value in form.fields.items():
        await j.fill(field_selector, value if field_selector == selector else field_value)
    before = j.page.url
    clicked = time.monotonic()
    await j.click(form.submit)
    with contextlib.suppress(StepFailed):  # refused or not: the canary is judged wherever the page is
        await j.wait_for_navigation(before, re.compile(form.destination.url), f"clicking {form.submit}", clicked)

    async def body() -> str | None:
        return await j.texts_of(None)

    await poll(body, lambda text: text is not None and marker in text, j.expect_ms)  # rendered back
    await j.settle()
    ran = list(j.xss_hits)
    if not ran and await j.evaluate("() => window.__sg_xss === 1"):
        ran.append(j.page.url)
    j.details["url"] = j.page.url
    if ran:
        raise StepFailed(f"the XSS canary typed into {selector} ran as script on {', '.join(sorted(set(ran)))}: "
                         f"the page renders what a user typed as HTML (stored XSS)")
    return f"the canary typed into {selector} never ran (at {j.page.url})"


async def op_language_shown(j: JourneyPage, lang: str) -> str:
    return await j.expect_language(lang, "on first load")


async def op_switch_language(j: JourneyPage, lang: str) -> str:
    selector = await j.click_language(lang)
    return await j.expect_language(lang, f"after clicking {selector}")


async def op_html_lang(j: JourneyPage, lang: str) -> str:
    return await j.html_lang(lang)


async def op_stored_language(j: JourneyPage, lang: str) -> str:
    return await j.stored_language(lang)


async def _reload(j: JourneyPage) -> None:
    try:
        await j.navigate(j.page.reload(wait_until="load", timeout=j.timeout_ms), "reloading")
    except StepFailed:
        raise
    except Exception as exc:  # noqa: BLE001
        raise StepFailed(f"reload failed: {short(exc)}", fatal=True) from None


async def op_reload_keeps_language(j: JourneyPage, lang: str) -> str:
    await _reload(j)
    return await j.language_applied(lang, "after a reload")


async def op_switch_back(j: JourneyPage, lang: str) -> str:
    selector = await j.click_language(lang)
    return await j.language_applied(lang, f"after clicking {selector} again")


async def op_step(j: JourneyPage, step: JourneyStep) -> str:
    return await STEP_ACTIONS[step.action](j, step)

# ---- `steps` journeys ------------------------------------------------------------------------


async def step_goto(j: JourneyPage, step: JourneyStep) -> str:
    assert step.goto is not None
    code = await j.goto(step.goto, step.status, fatal=False)
    j.vitals = await j.read_vitals()
    return f"GET {step.goto} answered {code} (at {j.page.url})"


async def step_click(j: JourneyPage, step: JourneyStep) -> str:
    assert step.click is not None
    await j.click(step.click)
    return f"clicked {step.click}"


async def step_fill(j: JourneyPage, step: JourneyStep) -> str:
    return await op_fill_fields(j, dict(step.fill or {}))


async def step_select(j: JourneyPage, step: JourneyStep) -> str:
    for selector, value in (step.select or {}).items():
        try:
            await j.page.locator(selector).select_option(str(j.expand(value)), timeout=j.expect_ms)
        except Exception as exc:  # noqa: BLE001
            raise StepFailed(f"cannot select in {selector}: {short(exc)}") from None
    return "selected"


async def _set_checked(j: JourneyPage, selector: str, checked: bool) -> str:
    try:
        await j.page.locator(selector).set_checked(checked, timeout=j.expect_ms)
    except Exception as exc:  # noqa: BLE001
        raise StepFailed(f"cannot {'check' if checked else 'uncheck'} {selector}: {short(exc)}") from None
    return f"{'checked' if checked else 'unchecked'} {selector}"


async def step_check(j: JourneyPage, step: JourneyStep) -> str:
    return await _set_checked(j, str(step.check), True)


async def step_uncheck(j: JourneyPage, step: JourneyStep) -> str:
    return await _set_checked(j, str(step.uncheck), False)


async def step_press(j: JourneyPage, step: JourneyStep) -> str:
    key = str(step.press)
    try:
        if step.on:
            await j.page.locator(step.on).press(key, timeout=j.expect_ms)
        else:
            await j.page.keyboard.press(key)
    except Exception as exc:  # noqa: BLE001
        raise StepFailed(f"cannot press {key}: {short(exc)}") from None
    return f"pressed {key}"


async def step_reload(j: JourneyPage, step: JourneyStep) -> str:
    await _reload(j)
    return "reloaded"


async def step_wait_for(j: JourneyPage, step: JourneyStep) -> str:
    try:
        await j.page.locator(str(step.wait_for)).first.wait_for(state="visible", timeout=j.expect_ms)
    except Exception as exc:  # noqa: BLE001
        raise StepFailed(f"{step.wait_for} did not become visible: {short(exc)}") from None
    return f"{step.wait_for} is visible"


async def step_expect_url(j: JourneyPage, step: JourneyStep) -> str:
    pattern = re.compile(str(step.expect_url))

    async def probe() -> str:
        return str(j.page.url)

    def settled(u: str) -> bool:
        # a dialog or failed form request since the last action: the URL will not change any more
        return bool(pattern.search(u)) or j.events.form_failure(j.action_started) is not None

    url = await poll(probe, settled, j.expect_ms)
    j.details["url"] = url
    if not pattern.search(url):
        raise StepFailed(f"the page is at {url}, expected a URL matching {step.expect_url!r}")
    return f"at {url}"


async def step_expect_text(j: JourneyPage, step: JourneyStep) -> str:
    return await j.expect_texts(list(step.expect_text or []))


async def step_expect_no_text(j: JourneyPage, step: JourneyStep) -> str:
    return await j.expect_texts(list(step.expect_no_text or []), present=False)


async def _visibility(j: JourneyPage, selector: str, state: Literal["visible", "hidden"]) -> str:
    try:
        await j.page.locator(selector).first.wait_for(state=state, timeout=j.expect_ms)
    except Exception as exc:  # noqa: BLE001
        raise StepFailed(f"expected {selector} to be {state}: {short(exc)}") from None
    return f"{selector} is {state}"


async def step_expect_visible(j: JourneyPage, step: JourneyStep) -> str:
    return await _visibility(j, str(step.expect_visible), "visible")


async def step_expect_hidden(j: JourneyPage, step: JourneyStep) -> str:
    return await _visibility(j, str(step.expect_hidden), "hidden")


async def step_expect_title(j: JourneyPage, step: JourneyStep) -> str:
    pattern = re.compile(str(step.expect_title))
    async def title() -> str:
        return str(await j.bounded(j.page.title(), EVALUATE_S, "reading the title"))

    title = await poll(title, lambda t: bool(pattern.search(t)), j.expect_ms)
    if not pattern.search(title):
        raise StepFailed(f"the title is {title!r}, expected it to match {step.expect_title!r}")
    return f"title {title!r}"


async def step_expect_storage(j: JourneyPage, step: JourneyStep) -> str:
    for key, want in (step.expect_storage or {}).items():
        value = await j.evaluate("(k) => window.localStorage.getItem(k)", key)
        expected = j.expand(want) if want is not None else None
        if value != expected:
            raise StepFailed(f"localStorage[{key!r}] is {value!r}, expected {expected!r}")
    return "storage as expected"


async def step_expect_no_console_errors(j: JourneyPage, step: JourneyStep) -> str:
    return await op_no_console_errors(j, [])


async def step_expect_vitals(j: JourneyPage, step: JourneyStep) -> str:
    budgets: Vitals = step.expect_vitals or Vitals()
    vitals = {**(await j.observe_vitals(budgets) or {}), **j.inp_vitals()}
    messages, problems = [], []
    for metric, budget in (("fcp", budgets.fcp_ms), ("lcp", budgets.lcp_ms), ("cls", budgets.cls),
                           ("inp", budgets.inp_ms)):
        if budget is None:
            continue
        try:
            messages.append(j.check_vital(metric, budget, vitals))
        except StepFailed as exc:
            problems.append(exc.message)
    if problems:
        raise StepFailed("; ".join(problems))
    return "; ".join(messages)


# ---- the registries: a planned step's op, a `steps` journey step's action -> its handler -------------

Handler = Callable[[JourneyPage, Any], Awaitable[str]]
OPS: dict[str, Handler] = {
    "goto": op_goto,
    "expect_text": op_expect_text,
    "no_console_errors": op_no_console_errors,
    "no_page_errors": op_no_page_errors,
    "no_failed_requests": op_no_failed_requests,
    "third_party_requests": op_third_party_requests,
    "vital": op_vital,
    "a11y": op_a11y,
    "inp": op_inp,
    "fill_fields": op_fill_fields,
    "submit": op_submit,
    "submit_invalid": op_submit_invalid,
    "stays_on_page": op_stays_on_page,
    "xss_canary": op_xss_canary,
    "language_shown": op_language_shown,
    "switch_language": op_switch_language,
    "html_lang": op_html_lang,
    "stored_language": op_stored_language,
    "reload_keeps_language": op_reload_keeps_language,
    "switch_back": op_switch_back,
    "step": op_step,
}
STEP_ACTIONS: dict[str, Callable[[JourneyPage, JourneyStep], Awaitable[str]]] = {
    "goto": step_goto,
    "click": step_click,
    "fill": step_fill,
    "select": step_select,
    "check": step_check,
    "uncheck": step_uncheck,
    "press": step_press,
    "reload": step_reload,
    "wait_for": step_wait_for,
    "expect_url": step_expect_url,
    "expect_text": step_expect_text,
    "expect_no_text": step_expect_no_text,
    "expect_visible": step_expect_visible,
    "expect_hidden": step_expect_hidden,
    "expect_title": step_expect_title,
    "expect_storage": step_expect_storage,
    "expect_no_console_errors": step_expect_no_console_errors,
    "expect_vitals": step_expect_vitals,
}


async def run_steps(state: JourneyPage, steps: list[PlannedStep], results: list[StepResult], reports_dir: Path,
                    screenshots: bool = True) -> None:
    """Run the planned steps in order, one result each; a failed action skips what depends on it (see `plan`)."""
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
            limit = step_limit_s(state.profile, state.journey, step)
            message = await state.bounded(OPS[step.op](state, step.arg), limit, f"the step {step.step}")
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
                shot = shot or await _screenshot(state, step, reports_dir)
            if shot:
                result.evidence.append(shot)
            results.append(result)
            failed_at = failed_at or step.step
            if exc.fatal:
                skip_from = step.step
        except Exception as exc:  # noqa: BLE001 - a runner bug or a dead page: one failed step, not a crash
            results.append(StepResult(step.check_id, "failed", redactor(f"{step.op}: {short(exc)}"),
                                      round((time.monotonic() - started) * 1000, 1), kind="error"))
            failed_at = failed_at or step.step
            skip_from = skip_from or step.step


_NAVIGATING_OPS = frozenset({"goto", "submit_invalid", "xss_canary", "reload_keeps_language"})


def _navigates(step: PlannedStep) -> bool:
    """Whether a step opens another page (or reloads this one) as it starts."""
    if step.op == "step":
        return step.arg.goto is not None or step.arg.reload is not None
    return step.fresh or step.op in _NAVIGATING_OPS


def report_watch(state: JourneyPage, results: list[StepResult]) -> None:
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


async def _screenshot(state: JourneyPage, step: PlannedStep, reports_dir: Path) -> str | None:
    if state.profile.e2e.screenshot == "off":
        return None
    path = evidence.evidence_dir(reports_dir) / f"{step.check_id}.png"
    if not await state.screenshot(path, state.secret_selectors):
        return None
    return evidence.relative(path, reports_dir)
