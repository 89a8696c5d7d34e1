"""The profile's e2e section: user journeys run in a real browser, declared as data.

A journey is one user path through the site, run in a fresh browser context. Its `kind` picks a ready-made
plan with typed options, or `steps` for a free list of actions and expectations:

- `landing`: open a page; it answers with `status`, shows `expect_text`, logs no console error, throws no
  uncaught exception, has no failed same-origin request (failing cross-origin resources are a check of their
  own, a warning unless `third_party: fail`), and meets the web-vitals budgets (FCP, LCP, CLS as the
  web-vitals library defines them, measured in the page with PerformanceObserver).
- `form`: open a page, fill `fields` (CSS selector -> value), click `submit`, land on `destination.url`
  (a regex searched in the URL) that shows `destination.texts`; optionally an `invalid` submission must show
  an error text and not navigate.
- `toggle`: a language switcher: one flipping button (`toggle`) or one button per language (`buttons`);
  every element carrying `data-<lang>` attributes must show the chosen language's text (and/or the explicit
  `texts` for pages a single-page app renders), `<html lang>` follows, the choice is stored under
  `storage_key`, survives a reload, and toggles back.
- `steps`: `goto`, `click`, `fill`, `select`, `check`, `press`, `reload`, `wait_for` and `expect_*` steps.

Each journey step becomes one check with id `<journey>.<step>` (e.g. `landing.no-console-errors`,
`intake.lands-on-dashboard`, `toggle.survives-reload`). Values may hold `${vars.X}`, `${secrets.X}` and
`${env.X}`; secret values are masked in screenshots and scrubbed from traces and logs.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from synthgate.profile.a11y import A11yConfig
from synthgate.profile.common import Regex, Strict

JourneyId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]  # no dots: `<journey>.<step>` must parse back
StepId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]
LangCode = Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")]


def _text_list(value: Any) -> Any:
    """`text`, [`text`, ...], {selector: text} or [{selector:, text:}] -> a list of TextExpect mappings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"text": value}]
    if isinstance(value, dict):
        return [{"selector": k, "text": v} for k, v in value.items()]
    if isinstance(value, list):
        return [{"text": v} if isinstance(v, str) else v for v in value]
    return value


class TextExpect(Strict):
    """A text that must appear (whitespace-normalised, substring) in `selector`, or anywhere in the page."""

    text: str = Field(min_length=1)
    selector: str | None = None


TextList = Annotated[list[TextExpect], BeforeValidator(_text_list)]


class Vitals(Strict):
    """Web-vitals budgets (defaults: Google's "good" thresholds); null disables one.

    Values are the web-vitals library's: LCP is observed until the first user input, or until the page has
    been quiet (no new LCP candidate, no layout shift) for `quiet_ms` after both the load event and the LCP
    budget; CLS is the largest session window of shifts over that whole time, shifts after load included;
    INP (steps journeys) is the worst interaction of the journey so far.
    """

    fcp_ms: float | None = Field(default=1800.0, gt=0)
    lcp_ms: float | None = Field(default=2500.0, gt=0)
    cls: float | None = Field(default=0.1, ge=0)
    inp_ms: float | None = Field(default=200.0, gt=0)
    quiet_ms: int = Field(default=2000, ge=0, le=30_000)  # 2 s: timers started at load land inside it under load
    max_observe_ms: int = Field(default=15_000, ge=1000, le=120_000)  # the observation ends by then regardless


class Viewport(Strict):
    """Browser window size."""

    width: int = Field(default=1280, ge=200, le=4000)
    height: int = Field(default=800, ge=200, le=4000)


class JourneyBase(Strict):
    """Fields every journey kind has."""

    id: JourneyId
    description: str = ""
    timeout_s: float | None = Field(default=None, gt=0, le=300)  # overrides e2e.timeout_s
    expect_timeout_s: float | None = Field(default=None, gt=0, le=120)  # overrides e2e.expect_timeout_s
    retries: int | None = Field(default=None, ge=0, le=5)  # overrides e2e.retries
    parallel: bool = True  # false: run alone, after the journeys that may share the browser concurrently
    a11y: bool = True  # axe-core runs in the page the journey ends on: check <journey>.a11y
    # INP budget over the journey's interactions (form and toggle journeys: check <journey>.inp-budget); null: off
    inp_ms: float | None = Field(default=200.0, gt=0)
    runbook: list[int] = Field(default_factory=list)

    @field_validator("runbook")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(n < 1 for n in value):
            raise ValueError("expected runbook item numbers (1 or more)")
        return value


def _path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("expected a path starting with '/'")
    return value


PagePath = Annotated[str, AfterValidator(_path)]


class LandingJourney(JourneyBase):
    """A page that loads cleanly and fast: status, texts, console, uncaught errors, requests, web vitals."""

    kind: Literal["landing"]
    path: PagePath = "/"
    status: int = Field(default=200, ge=100, le=599)
    expect_text: TextList = Field(default_factory=list)
    vitals: Vitals | None = Field(default_factory=Vitals)  # null: do not measure
    console_errors: bool = True  # check that no console message of type "error" is logged
    failed_requests: bool = True  # check that no same-origin request fails or answers >= 400
    # failing cross-origin resources (CDNs, analytics): their own check, <journey>.third-party-requests
    third_party: Literal["warn", "fail", "off"] = "warn"
    ignore_console: list[Regex] = Field(default_factory=list)  # messages matching these are tolerated
    ignore_requests: list[Regex] = Field(default_factory=list)  # URLs matching these are tolerated
    settle_ms: int = Field(default=300, ge=0, le=10000)  # after `load`, how long late errors may still arrive


class Destination(Strict):
    """Where a submitted form must land: a URL regex, and texts that page must show."""

    url: Regex
    name: StepId = "destination"  # names the checks: lands-on-<name>, <name>-shows-text
    texts: TextList = Field(default_factory=list)


class InvalidSubmission(Strict):
    """A submission the site must refuse: it shows `error` and does not navigate away."""

    fields: dict[str, str | bool] = Field(default_factory=dict)  # selector -> value (others stay empty)
    error: TextList = Field(min_length=1)


class FormJourney(JourneyBase):
    """Fill a form, submit it, land on the expected page; optionally, an invalid submission is refused."""

    kind: Literal["form"]
    path: PagePath
    status: int = Field(default=200, ge=100, le=599)
    fields: dict[str, str | bool] = Field(min_length=1)  # CSS selector -> value (bool: a checkbox)
    submit: str  # CSS selector of the submit button
    destination: Destination
    invalid: InvalidSubmission | None = None
    # one more pass through the form with a harmless script canary in one text field (check <journey>.no-xss):
    # true picks the field the destination shows back (else the first text field); a selector picks that one
    xss_canary: bool | str = True


class ToggleJourney(JourneyBase):
    """A language switcher: every translated element switches, <html lang> follows, the choice persists."""

    kind: Literal["toggle"]
    path: PagePath = "/"
    languages: list[LangCode] = Field(default_factory=lambda: ["en", "zh"], min_length=2)  # first = default
    toggle: str | None = None  # one button that flips between the two languages
    buttons: dict[str, str] | None = None  # language -> selector of its own button
    attribute: str | None = "data-{lang}"  # where translations live; null: only `texts` are checked
    texts: dict[str, dict[str, str]] = Field(default_factory=dict)  # selector -> {language: expected text}
    html_lang: bool = True  # <html lang> must name the chosen language
    storage_key: str | None = "language"  # localStorage key keeping the choice; null: not checked
    storage: Literal["local", "session"] = "local"
    storage_values: dict[str, str] = Field(default_factory=dict)  # language -> stored value, when not the code
    reload: bool = True  # the choice must survive a reload
    back: bool = True  # and toggle back to the default language

    @field_validator("attribute")
    @classmethod
    def _attribute(cls, value: str | None) -> str | None:
        if value is not None and (value.count("{lang}") != 1 or not re.fullmatch(r"[A-Za-z0-9_{}-]+", value)):
            raise ValueError("expected an attribute name containing {lang} once, e.g. data-{lang}")
        return value

    @model_validator(mode="after")
    def _controls(self) -> ToggleJourney:
        if (self.toggle is None) == (self.buttons is None):
            raise ValueError("expected exactly one of 'toggle' (one flipping button) or 'buttons' (one per language)")
        if self.toggle is not None and len(self.languages) != 2:
            raise ValueError("a single flipping 'toggle' needs exactly two languages; use 'buttons' for more")
        if self.buttons is not None and set(self.buttons) != set(self.languages):
            raise ValueError(f"expected one button per language {self.languages}, got {sorted(self.buttons)}")
        if len(set(self.languages)) != len(self.languages):
            raise ValueError("expected distinct languages")
        for selector, per_lang in self.texts.items():
            if set(per_lang) != set(self.languages):
                raise ValueError(f"texts[{selector!r}]: expected one text per language {self.languages}")
        if self.attribute is None and not self.texts:
            raise ValueError("nothing to check: set 'attribute' (e.g. data-{lang}) or 'texts'")
        return self


ACTIONS = ("goto", "click", "fill", "select", "check", "uncheck", "press", "reload", "wait_for")
EXPECTATIONS = ("expect_url", "expect_text", "expect_no_text", "expect_visible", "expect_hidden",
                "expect_title", "expect_storage", "expect_no_console_errors", "expect_vitals")


class JourneyStep(Strict):
    """One step of a `steps` journey: exactly one action or expectation."""

    id: StepId | None = None  # defaults to <n>-<action>, e.g. 03-click
    goto: str | None = None  # a path (or absolute URL); `status` is then expected
    status: int | None = Field(default=None, ge=100, le=599)
    click: str | None = None
    fill: dict[str, str] | None = None  # selector -> value
    select: dict[str, str] | None = None  # selector of a <select> -> option value or label
    check: str | None = None
    uncheck: str | None = None
    press: str | None = None  # a key, e.g. Enter, pressed in `on` (or the focused element)
    on: str | None = None
    reload: bool | None = None
    wait_for: str | None = None  # a selector that must become visible
    expect_url: Regex | None = None
    expect_text: TextList | None = None
    expect_no_text: TextList | None = None
    expect_visible: str | None = None
    expect_hidden: str | None = None
    expect_title: Regex | None = None
    expect_storage: dict[str, str | None] | None = None  # localStorage key -> value (null: absent)
    expect_no_console_errors: bool | None = None
    expect_vitals: Vitals | None = None

    @property
    def action(self) -> str:
        """The one action or expectation this step holds."""
        return next(name for name in (*ACTIONS, *EXPECTATIONS) if getattr(self, name) is not None)

    @property
    def is_expectation(self) -> bool:
        """Expectations observe the page; actions change it."""
        return self.action in EXPECTATIONS

    @model_validator(mode="after")
    def _exactly_one(self) -> JourneyStep:
        present = [name for name in (*ACTIONS, *EXPECTATIONS) if getattr(self, name) is not None]
        if len(present) != 1:
            raise ValueError(f"expected exactly one action or expectation per step ({', '.join(ACTIONS)}, "
                             f"{', '.join(EXPECTATIONS)}), got {present or 'none'}")
        if self.status is not None and self.goto is None:
            raise ValueError("'status' only applies to a 'goto' step")
        if self.on is not None and self.press is None:
            raise ValueError("'on' only applies to a 'press' step")
        if self.goto is not None and not self.goto.startswith(("/", "http://", "https://")):
            raise ValueError("expected 'goto' to be a path starting with '/' or an http(s) URL")
        return self


class StepsJourney(JourneyBase):
    """A free list of steps; after a failed step, the expectations right after it still run, the rest skip."""

    kind: Literal["steps"]
    steps: list[JourneyStep] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_step_ids(self) -> StepsJourney:
        seen: set[str] = set()
        for n, step in enumerate(self.steps, 1):
            sid = step.id or f"{n:02d}-{step.action.replace('_', '-')}"
            if sid in seen:
                raise ValueError(f"expected unique step ids, '{sid}' appears twice")
            seen.add(sid)
        return self


def _default_kind(value: Any) -> Any:
    """A journey with `steps` and no `kind` is a steps journey."""
    if isinstance(value, dict) and "kind" not in value and "steps" in value:
        return {**value, "kind": "steps"}
    return value


Journey = Annotated[
    LandingJourney | FormJourney | ToggleJourney | StepsJourney,
    Field(discriminator="kind"),
    BeforeValidator(_default_kind),
]


class E2EConfig(Strict):
    """Browser settings shared by every journey."""

    parallel: int = Field(default=1, ge=1, le=8)  # journeys run concurrently, each in its own context
    timeout_s: float = Field(default=15.0, gt=0, le=300)  # navigation and action timeout
    expect_timeout_s: float = Field(default=5.0, gt=0, le=120)  # how long an expectation may wait to hold
    retries: int = Field(default=1, ge=0, le=5)  # a failed journey runs again in a fresh context
    # on-failure: a journey's last possible attempt is traced and its trace kept if it fails (earlier attempts
    # are retried on failure, so they run untraced); always: every attempt, kept; off: never
    trace: Literal["on-failure", "always", "off"] = "on-failure"
    screenshot: Literal["on-failure", "off"] = "on-failure"
    viewport: Viewport = Field(default_factory=Viewport)
    locale: str = "en-US"  # fixed, so a site's language default does not depend on the runner
    synthetic_headers: Literal["same-origin", "all", "none"] = "same-origin"  # where profile headers are sent
    ignore_console: list[Regex] = Field(default_factory=list)  # console errors tolerated in every journey
    ignore_https_errors: bool = False
    a11y: A11yConfig = Field(default_factory=A11yConfig)  # how <journey>.a11y judges axe-core's findings
    # every page a journey visits is watched (uncaught errors, failed same-origin requests, console errors), each
    # reported under the step that navigated there; a page is left, and the journey ends, only after it has been
    # quiet (no load, no same-origin answer) for settle_ms
    watch_pages: bool = True
    settle_ms: int = Field(default=400, ge=0, le=10_000)
