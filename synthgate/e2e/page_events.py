"""Page events: what a journey's page logs while it runs - console messages, uncaught errors, failed requests,
dialogs - kept for the journey's checks, its watch (every page it visits) and its console log evidence.

Same-origin answers are also recorded for hygiene over everything the run saw (`checks.seen`).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

from synthgate.checks import seen
from synthgate.e2e.diagnosis import PageEvents
from synthgate.e2e.watch import PageWatch

RECORDING_WAIT_S = 2.0  # at the end of an attempt, how long answers still being recorded may take


class PageListener:
    """Listens to one page: what it logged, stamped from `started`, judged same-origin by `same_origin`."""

    def __init__(self, page: Any, journey_id: str, same_origin: Callable[[str], bool], started: float,
                 watch: PageWatch, ignore_console: list[str]) -> None:
        self.page = page
        self.journey_id = journey_id
        self.same_origin = same_origin
        self.started = started
        self.watch = watch
        self.ignore_console = ignore_console  # the profile's: tolerated in every journey
        self.console: list[dict[str, str]] = []
        self.page_errors: list[str] = []
        self.bad_requests: list[str] = []
        self.log: list[str] = []
        self.events = PageEvents()
        self._seen_tasks: set[asyncio.Task[None]] = set()
        page.on("load", lambda _page: self.watch.activity())
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)
        page.on("dialog", self._on_dialog)

    def _stamp(self) -> str:
        return f"{time.monotonic() - self.started:8.3f}s"

    def _on_console(self, message: Any) -> None:
        location = message.location or {}
        where = f"{location.get('url', '')}:{location.get('lineNumber', '')}" if location.get("url") else ""
        entry = {"type": message.type, "text": message.text, "where": where, "url": location.get("url") or ""}
        self.console.append(entry)
        if message.type == "error" and not self.third_party_console(entry):
            self.watch.console_error(self.page.url, message.text)
        self.log.append(f"{self._stamp()} console.{message.type}: {message.text}" + (f"  ({where})" if where else ""))

    def _on_page_error(self, error: Any) -> None:
        text = getattr(error, "message", None) or str(error)
        self.page_errors.append(text)
        self.events.error(text)
        self.watch.uncaught(self.page.url, text)
        stack = getattr(error, "stack", None) or ""
        self.log.append(f"{self._stamp()} uncaught exception: {text}" + (f"\n{stack}" if stack else ""))

    def _on_request_failed(self, request: Any) -> None:
        line = f"{request.method} {request.url} failed: {request.failure}"
        self.log.append(f"{self._stamp()} request {line}")
        same = self.same_origin(request.url)
        if same:
            self.bad_requests.append(line)
            self.watch.request_failed(self.page.url, request.method, request.url, request.resource_type, None,
                                      str(request.failure))
        self.events.request_failed(same, request.method, request.url, request.resource_type,
                                   error=str(request.failure))

    def _on_response(self, response: Any) -> None:
        if self.same_origin(response.url):
            self.watch.activity()
            task = asyncio.ensure_future(self._record_seen(response))
            self._seen_tasks.add(task)
            task.add_done_callback(self._seen_tasks.discard)
        if response.status >= 400:
            line = f"{response.request.method} {response.url} answered {response.status}"
            self.log.append(f"{self._stamp()} response {line}")
            same = self.same_origin(response.url)
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
                               [(h["name"], h["value"]) for h in got], by=f"journey {self.journey_id}"))

    async def finish_recording(self) -> None:
        """Wait (briefly) for the answers still being recorded."""
        if self._seen_tasks:
            await asyncio.wait(set(self._seen_tasks), timeout=RECORDING_WAIT_S)

    async def _on_dialog(self, dialog: Any) -> None:
        self.log.append(f"{self._stamp()} dialog ({dialog.type}): {dialog.message} (dismissed)")
        self.events.dialog(dialog.type, dialog.message)
        await dialog.dismiss()

    def console_errors(self, ignore: list[str]) -> list[str]:
        """Console errors not matching the journey's or the profile's ignore patterns."""
        patterns = [re.compile(p) for p in [*ignore, *self.ignore_console]]
        return [c["text"] + (f" ({c['where']})" if c["where"] else "") for c in self.console
                if c["type"] == "error" and not any(p.search(c["text"]) for p in patterns)
                and not self.third_party_console(c)]

    def third_party_console(self, entry: dict[str, str]) -> bool:
        """A console error that only reports a failing cross-origin resource (the third-party check has it)."""
        url = entry.get("url", "")
        if not url or self.same_origin(url) or url.startswith(("data:", "blob:")):
            return False
        return url in self.events.third_party_urls() or entry["text"].startswith("Failed to load resource")
