"""Browser operations: every call into a page bounded in time, and a page whose script never yields found and named.

A page stuck in `while(true){}` answers no evaluation, no screenshot, no navigation: every call here has its own
bound, and after one times out a `1 + 1` in the page (HANG_PROBE_S) decides whether the page is hung. A hung page
fails its step as fatal ("the page's script never yielded"); closing its context ends the spinning renderer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from synthgate.e2e.plan import A11Y_STEP_S, HANG_PROBE_S
from synthgate.e2e.step_result import StepFailed

T = TypeVar("T")
# Chromium's network errors that mean "no connection at all": the runner's problem, not the deployment's.
UNREACHABLE = ("ERR_NAME_NOT_RESOLVED", "ERR_CONNECTION_TIMED_OUT", "ERR_ADDRESS_UNREACHABLE",
               "ERR_INTERNET_DISCONNECTED", "ERR_NAME_RESOLUTION_FAILED", "ERR_NETWORK_UNREACHABLE")
TEARDOWN_S = 10.0  # each of: learning the context's storage, stopping a trace, closing the context
EVALUATE_S = 5.0  # an evaluation in the page (vitals, translations, storage) that never answers is a hung page
A11Y_S = A11Y_STEP_S - 2  # injecting and running axe-core
HUNG = "the page's script never yielded"
WATCH_EVERY_S = 3.0  # while a navigation waits for `load`, how often the page is asked whether it still answers
SCREENSHOT_MS = 10_000


async def answers(page: Any) -> bool:
    """Whether the page's main thread still runs scripts (False: it never yields; a closed page is not hung)."""
    try:
        await asyncio.wait_for(page.evaluate("() => 1 + 1"), HANG_PROBE_S)
    except TimeoutError:
        return False
    except Exception:  # noqa: BLE001 - closed, crashed or navigating: not a spinning script
        return True
    return True


def short(exc: BaseException) -> str:
    """A Playwright error in one line: its first line, plus what it was waiting for."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip() and not ln.strip().startswith("=")]
    head = lines[0] if lines else exc.__class__.__name__
    waiting = next((ln for ln in lines[1:] if ln.startswith(("waiting for", "- waiting for"))), "")
    return (head + (f" ({waiting.lstrip('- ')})" if waiting else ""))[:400]


def seconds(ms: float) -> str:
    """Milliseconds as `3 s`."""
    return f"{ms / 1000:g} s"


async def poll(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout_ms: float,
               stop: Callable[[], bool] | None = None) -> T:
    """Call `probe` until `ok(result)`, the timeout, or `stop()`; the last result either way."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        value = await probe()
        if ok(value) or time.monotonic() >= deadline or (stop is not None and stop()):
            return value
        await asyncio.sleep(0.1)


class PageCalls:
    """Bounded calls into one page; remembers once the page's script stopped yielding (`hung`)."""

    def __init__(self, page: Any, timeout_ms: float) -> None:
        self.page = page
        self.timeout_ms = timeout_ms  # navigations
        self.hung: str | None = None  # set once the page's script stopped yielding: the rest cannot run

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
                    raise StepFailed(f"{what} got no answer within {seconds(self.timeout_ms)}")
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

    async def bounded(self, call: Awaitable[T], limit_s: float, what: str) -> T:
        """`call` within `limit_s`; past it, StepFailed: the hung-page message if the page no longer answers."""
        try:
            return await asyncio.wait_for(call, limit_s)
        except TimeoutError:
            await self.raise_if_hung(f"{what} got no answer within {limit_s:g} s")
            raise StepFailed(f"{what} got no answer within {limit_s:g} s (at {self.page.url})") from None

    async def evaluate(self, script: str, arg: Any = None, limit_s: float = EVALUATE_S) -> Any:
        """page.evaluate, bounded: a page whose script never yields fails the step as hung."""
        return await self.bounded(self.page.evaluate(script, arg), limit_s, "a script run in the page")

    async def screenshot(self, path: Path, mask_selectors: set[str]) -> bool:
        """The page as it is now, secrets' fields masked; False when it could not be taken."""
        try:
            mask = [self.page.locator(s) for s in sorted(mask_selectors)]
            await self.page.screenshot(path=str(path), mask=mask, timeout=SCREENSHOT_MS)
        except Exception:  # noqa: BLE001 - a closed or navigating page: no screenshot, the failure stands
            return False
        return True


async def close_context(browser: Any, context: Any) -> None:
    """Close a context, bounded: closing it ends its renderers, a spinning one included. A context that
    will not close takes the browser with it (the next journey then fails to open a context)."""
    try:
        await asyncio.wait_for(context.close(), TEARDOWN_S)
    except TimeoutError:
        # past this, the stage's process group is killed at its budget
        with contextlib.suppress(Exception):
            await asyncio.wait_for(browser.close(), TEARDOWN_S)


async def stop_trace(context: Any, path: Path | None) -> bool:
    """Stop the context's trace, bounded; written to `path` (None: dropped). False when nothing was written."""
    try:
        if path is None:
            await asyncio.wait_for(context.tracing.stop(), TEARDOWN_S)
            return False
        await asyncio.wait_for(context.tracing.stop(path=str(path)), TEARDOWN_S)
    except Exception:  # noqa: BLE001 - a trace is evidence, not a verdict: never fail the step for it
        if path is not None:
            path.unlink(missing_ok=True)
        return False
    return True
