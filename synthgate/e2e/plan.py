"""What each journey checks, step by step: the plan is data, known before any browser starts.

The plan gives every step its check id (`<journey>.<step>`), so the e2e suite can parametrise one test per
step at collection time, and says how a failure propagates:
- an *action* changes the page (navigate, click, fill); after a failed step, the next action and everything
  after it are skipped (their premise is gone);
- an *observation* only looks at the page; the observations right after a failed step still run, so one
  broken toggle reports every symptom (texts, <html lang>, storage) at once;
- a *fresh* step starts from its own navigation, so it runs whatever failed before it;
- a *fatal* failure (the page could not be opened at all) skips every later non-fresh step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from synthgate.profile.e2e import FormJourney, LandingJourney, StepsJourney, ToggleJourney
from synthgate.profile.model import Profile

JourneySpec = LandingJourney | FormJourney | ToggleJourney | StepsJourney


@dataclass(frozen=True)
class PlannedStep:
    """One step of a journey: its id, what it does (`op` with `arg`), and how failures propagate."""

    journey: str
    step: str
    op: str
    arg: Any = None
    observe: bool = False
    fresh: bool = False

    @property
    def check_id(self) -> str:
        """The check id in verdict.json: <journey>.<step>."""
        return f"{self.journey}.{self.step}"


def plan(journey: JourneySpec) -> list[PlannedStep]:
    """The steps of one journey, in run order."""
    builder = {"landing": _landing, "form": _form, "toggle": _toggle, "steps": _steps}[journey.kind]
    steps: list[PlannedStep] = builder(journey)  # type: ignore[operator]
    if journey.a11y:  # last: axe-core looks at the page the journey ends on (form errors shown, language chosen)
        steps.append(PlannedStep(journey.id, "a11y", "a11y", None, observe=True))
    if isinstance(journey, FormJourney) and journey.xss_canary is not False:  # a pass of its own, after the rest
        steps.append(PlannedStep(journey.id, "no-xss", "xss_canary", None, fresh=True))
    return steps


def plan_all(profile: Profile) -> list[PlannedStep]:
    """Every step of every journey of the profile, journey by journey."""
    return [step for journey in profile.journeys for step in plan(journey)]


def attempts(profile: Profile, journey: JourneySpec) -> int:
    """How many times a failing journey runs: once, plus its retries."""
    return (journey.retries if journey.retries is not None else profile.e2e.retries) + 1


# ops that only read what the page already reported (no waiting in the page)
_INSTANT_OPS = frozenset({"no_console_errors", "no_page_errors", "no_failed_requests", "third_party_requests",
                          "vital", "inp"})
SETUP_S = 12.0  # a fresh context, its init scripts, the trace start, the last page's settle, a failure's evidence
A11Y_STEP_S = 20.0  # axe-core's injection and run (a few hundred ms on a normal page)
HANG_PROBE_S = 2.0  # after a call timed out, how long the page has to answer `1 + 1` (else it is hung)


def step_limit_s(profile: Profile, journey: JourneySpec, step: PlannedStep) -> float:
    """The longest one step may take before the runner gives up on it (and checks whether the page hangs)."""
    cfg = profile.e2e
    timeout = journey.timeout_s or cfg.timeout_s
    expect = journey.expect_timeout_s or cfg.expect_timeout_s
    if step.op in _INSTANT_OPS:
        return 1.0
    if step.op == "a11y":
        return A11Y_STEP_S
    if step.observe:
        limit = 2 * expect + HANG_PROBE_S + 1
        if step.op == "step" and step.arg.expect_vitals is not None:
            limit += step.arg.expect_vitals.max_observe_ms / 1000
        return limit
    limit = timeout + expect + HANG_PROBE_S + 1
    vitals = getattr(journey, "vitals", None)
    if step.op == "goto" and vitals is not None:
        limit += vitals.max_observe_ms / 1000 + (step.arg or {}).get("settle_ms", 0) / 1000
    if step.op in ("submit_invalid", "xss_canary"):  # a navigation of its own before the submission
        limit += timeout
    return limit


def journey_budget_s(profile: Profile, journey: JourneySpec) -> float:
    """The longest one attempt of a journey may take: every step at its own limit, plus set-up."""
    return SETUP_S + sum(step_limit_s(profile, journey, s) for s in plan(journey))


def stage_budget_s(profile: Profile) -> float:
    """The longest the journeys may take together: every attempt at its budget, `e2e.parallel` at a time."""
    sequential = [attempts(profile, j) * journey_budget_s(profile, j) for j in profile.journeys if not j.parallel]
    shared = [attempts(profile, j) * journey_budget_s(profile, j) for j in profile.journeys if j.parallel]
    return sum(sequential) + max(max(shared, default=0.0), sum(shared) / profile.e2e.parallel)


def _landing(j: LandingJourney) -> list[PlannedStep]:
    out = [PlannedStep(j.id, "loads", "goto", {"path": j.path, "status": j.status, "settle_ms": j.settle_ms})]
    if j.expect_text:
        out.append(PlannedStep(j.id, "shows-text", "expect_text", j.expect_text, observe=True))
    if j.console_errors:
        out.append(PlannedStep(j.id, "no-console-errors", "no_console_errors", j.ignore_console, observe=True))
    out.append(PlannedStep(j.id, "no-uncaught-errors", "no_page_errors", None, observe=True))
    if j.failed_requests:
        out.append(PlannedStep(j.id, "no-failed-requests", "no_failed_requests", j.ignore_requests, observe=True))
    if j.third_party != "off":
        out.append(PlannedStep(j.id, "third-party-requests", "third_party_requests",
                               {"fatal": j.third_party == "fail", "ignore": j.ignore_requests}, observe=True))
    if j.vitals is not None:
        for metric in ("fcp", "lcp", "cls"):
            budget = getattr(j.vitals, "cls" if metric == "cls" else f"{metric}_ms")
            if budget is not None:
                out.append(PlannedStep(j.id, f"{metric}-budget", "vital", (metric, budget), observe=True))
    return out


def _inp(j: FormJourney | ToggleJourney) -> list[PlannedStep]:
    """The INP check of a journey with interactions: the worst of them against the journey's budget."""
    return [] if j.inp_ms is None else [PlannedStep(j.id, "inp-budget", "inp", j.inp_ms, observe=True)]


def _form(j: FormJourney) -> list[PlannedStep]:
    name = j.destination.name
    out = [
        PlannedStep(j.id, "loads", "goto", {"path": j.path, "status": j.status}),
        PlannedStep(j.id, "fills-form", "fill_fields", j.fields),
        PlannedStep(j.id, f"lands-on-{name}", "submit", {"submit": j.submit, "url": j.destination.url}),
    ]
    if j.destination.texts:
        out.append(PlannedStep(j.id, f"{name}-shows-text", "expect_text", j.destination.texts, observe=True))
    if j.invalid is not None:
        out.append(PlannedStep(j.id, "invalid-shows-error", "submit_invalid",
                               {"path": j.path, "fields": j.invalid.fields, "submit": j.submit,
                                "error": j.invalid.error}, fresh=True))
        out.append(PlannedStep(j.id, "invalid-stays-on-page", "stays_on_page", None, observe=True))
    return out + _inp(j)


def _toggle(j: ToggleJourney) -> list[PlannedStep]:
    first, others = j.languages[0], j.languages[1:]
    out = [
        PlannedStep(j.id, "loads", "goto", {"path": j.path, "status": 200}),
        PlannedStep(j.id, f"starts-in-{first}", "language_shown", first, observe=True),
    ]
    for lang in others:
        out.append(PlannedStep(j.id, f"switches-to-{lang}", "switch_language", lang))
        if j.html_lang:
            out.append(PlannedStep(j.id, f"sets-html-lang-{lang}", "html_lang", lang, observe=True))
        if j.storage_key:
            out.append(PlannedStep(j.id, f"stores-language-{lang}", "stored_language", lang, observe=True))
    if j.reload:
        out.append(PlannedStep(j.id, "survives-reload", "reload_keeps_language", others[-1]))
    if j.back:
        out.append(PlannedStep(j.id, "toggles-back", "switch_back", first))
    return out + _inp(j)


def step_id(n: int, action: str, explicit: str | None) -> str:
    """A steps-journey step's id: its own, or <n>-<action> (e.g. 03-click)."""
    return explicit or f"{n:02d}-{action.replace('_', '-')}"


def _steps(j: StepsJourney) -> list[PlannedStep]:
    return [PlannedStep(j.id, step_id(n, s.action, s.id), "step", s, observe=s.is_expectation)
            for n, s in enumerate(j.steps, 1)]
