"""Every page a journey visits is watched, not only the first: uncaught errors, failed same-origin requests and
console errors, each stamped with when and where it happened and reported under the action step that led there.

A journey that checks a text and moves on would miss a dashboard that throws a moment after it shows: before a
journey leaves a page, and when it ends, the page gets a short settle (quiet for `e2e.settle_ms`: no load event,
no same-origin answer), so what it does right after showing itself is seen too.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

SETTLE_MAX_S = 3.0  # a page that keeps polling is never quiet: the settle ends by then regardless
# request types whose 4xx is the application answering (validation, quotas, auth), judged by the journey's steps
APP_ANSWER_TYPES = frozenset({"fetch", "xhr", "eventsource", "websocket"})
SHOWN = 3


@dataclass(frozen=True)
class Seen:
    """One problem a page showed: when, on which page, what."""

    at: float
    page: str
    what: str


@dataclass
class PageWatch:
    """What the pages of one journey attempt did wrong, and which action step each problem follows."""

    ignore_console: list[re.Pattern[str]] = field(default_factory=list)
    ignore_requests: list[re.Pattern[str]] = field(default_factory=list)
    problems: list[Seen] = field(default_factory=list)
    actions: list[tuple[float, str]] = field(default_factory=list)  # (started, check id) of each action step
    judged_until: float = 0.0  # problems up to here were reported by a journey's own checks (landing)
    last_activity: float = 0.0  # the last load event or same-origin answer

    def action(self, check_id: str) -> None:
        """An action step starts: problems from now on follow it."""
        self.actions.append((time.monotonic(), check_id))

    def activity(self) -> None:
        """The page loaded or got a same-origin answer: its settle starts again."""
        self.last_activity = time.monotonic()

    def uncaught(self, page: str, message: str) -> None:
        """An uncaught error in the page."""
        self.problems.append(Seen(time.monotonic(), page, f"uncaught error: {message[:200]}"))

    def console_error(self, page: str, text: str) -> None:
        """A console error (a failed resource's own console line is the request's problem, not a second one)."""
        if text.startswith("Failed to load resource") or any(p.search(text) for p in self.ignore_console):
            return
        self.problems.append(Seen(time.monotonic(), page, f"console error: {text[:200]}"))

    def request_failed(self, page: str, method: str, url: str, resource_type: str, status: int | None,
                       error: str | None) -> None:
        """A same-origin request that got no answer or an error answer (a cancelled one is no failure)."""
        if any(p.search(url) for p in self.ignore_requests):
            return
        if status is None and error is not None and "ERR_ABORTED" in error:
            return  # a navigation or the page itself cancelled it
        if status is not None and (status < 400 or (status < 500 and resource_type in APP_ANSWER_TYPES)):
            return
        parts = urlsplit(url)
        where = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        outcome = f"answered {status}" if status is not None else f"failed: {error}"
        self.problems.append(Seen(time.monotonic(), page, f"{method} {where} {outcome}"))

    def quiet_left_s(self, settle_s: float, since: float) -> float:
        """How much longer to wait for the page to settle (bounded by SETTLE_MAX_S from `since`)."""
        now = time.monotonic()
        return max(0.0, min(self.last_activity + settle_s, since + SETTLE_MAX_S) - now)

    def by_step(self) -> dict[str, list[Seen]]:
        """The problems not yet reported, under the action step each followed."""
        out: dict[str, list[Seen]] = {}
        for seen in self.problems:
            if seen.at <= self.judged_until:
                continue
            step = next((cid for started, cid in reversed(self.actions) if started <= seen.at), None)
            if step is not None:
                out.setdefault(step, []).append(seen)
        return out


def describe(problems: list[Seen]) -> str:
    """One line naming the pages and the first few problems."""
    pages = sorted({_path(p.page) for p in problems})
    shown = " | ".join(p.what for p in problems[:SHOWN]) + (f" (+{len(problems) - SHOWN} more)"
                                                           if len(problems) > SHOWN else "")
    return f"after this step, {', '.join(pages)} showed {len(problems)} problem(s): {shown}"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
