"""What a page did while a journey step ran, so a failed step says why: failed same-origin requests (method, path,
status), dialogs (their text) and uncaught errors, each stamped, plus failing cross-origin resources kept apart.

A step that waits for a navigation also asks `form_failure`: a dialog, or a failed form request (a same-origin
fetch, XHR or document request that answered >= 400 or got no answer), ends the wait at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Resource types that carry what a form or a script sends (a stylesheet or image failing is no form failure).
FORM_RESOURCE_TYPES = frozenset({"fetch", "xhr", "document", "eventsource", "websocket"})
SHOWN = 3  # how many of each kind a message names


@dataclass(frozen=True)
class FailedRequest:
    """A request that answered >= 400 (`status`) or got no answer (`error`)."""

    at: float
    method: str
    url: str
    resource_type: str
    status: int | None = None
    error: str | None = None

    @property
    def path(self) -> str:
        """The path and query, as a message shows a same-origin request."""
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def describe(self, same_origin: bool = True) -> str:
        """e.g. `POST /intake answered 405`, or `GET https://cdn.example/x.css failed: net::ERR_NAME_NOT_RESOLVED`."""
        where = self.path if same_origin else self.url
        outcome = f"answered {self.status}" if self.status is not None else f"failed: {self.error}"
        return f"{self.method} {where} {outcome}"


@dataclass
class PageEvents:
    """Every failure signal of one journey attempt, in the order the page gave them."""

    same_origin: list[FailedRequest] = field(default_factory=list)
    third_party: list[FailedRequest] = field(default_factory=list)
    dialogs: list[tuple[float, str, str]] = field(default_factory=list)  # (at, type, message)
    errors: list[tuple[float, str]] = field(default_factory=list)  # (at, message)

    def request_failed(self, same_origin: bool, method: str, url: str, resource_type: str,
                       status: int | None = None, error: str | None = None) -> None:
        """Record a failed request on the side it belongs to."""
        item = FailedRequest(time.monotonic(), method, url, resource_type, status, error)
        (self.same_origin if same_origin else self.third_party).append(item)

    def dialog(self, kind: str, message: str) -> None:
        """Record a dialog (alert, confirm, prompt, beforeunload)."""
        self.dialogs.append((time.monotonic(), kind, message))

    def error(self, message: str) -> None:
        """Record an uncaught error."""
        self.errors.append((time.monotonic(), message))

    def form_failure(self, since: float) -> str | None:
        """Why a submission failed, if the page has said so since `since`: a dialog or a failed form request."""
        failed = [r for r in self.same_origin if r.at >= since and r.resource_type in FORM_RESOURCE_TYPES]
        dialogs = [d for d in self.dialogs if d[0] >= since]
        if not failed and not dialogs:
            return None
        return self.summary(since) or None

    def summary(self, since: float) -> str:
        """The failure signals since `since`, in one line ("" when there were none)."""
        parts: list[str] = []
        failed = [r for r in self.same_origin if r.at >= since]
        if failed:
            parts.append("same-origin request(s) failed: " + "; ".join(r.describe() for r in failed[:SHOWN])
                         + (f" (+{len(failed) - SHOWN} more)" if len(failed) > SHOWN else ""))
        dialogs = [d for d in self.dialogs if d[0] >= since]
        if dialogs:
            parts.append("the page showed " + "; ".join(f"a{'n' if t[0] in 'aeiou' else ''} {t} dialog {m!r}"
                                                          for _, t, m in dialogs[:SHOWN]))
        errors = [e for e in self.errors if e[0] >= since]
        if errors:
            parts.append("uncaught error(s): " + " | ".join(m[:200] for _, m in errors[:SHOWN]))
        return "; ".join(parts)

    def third_party_urls(self) -> set[str]:
        """URLs of the failing cross-origin resources (their console errors are theirs, not the page's)."""
        return {r.url for r in self.third_party}
