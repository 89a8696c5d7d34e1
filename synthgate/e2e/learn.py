"""The browser's storage state is secret: cookie values and localStorage values the target handed out."""

from __future__ import annotations

from typing import Any

from synthgate.redact import redactor


def learn_state(state: dict[str, Any]) -> int:
    """Register the cookie and localStorage values of a Playwright storage state; how many were offered."""
    count = 0
    for cookie in state.get("cookies") or []:
        if isinstance(cookie, dict):
            redactor.learn(str(cookie.get("value", "")), f"COOKIE_{cookie.get('name', '')}")
            count += 1
    for origin in state.get("origins") or []:
        for item in (origin.get("localStorage") or []) if isinstance(origin, dict) else []:
            if isinstance(item, dict):
                redactor.learn(str(item.get("value", "")), f"STORAGE_{item.get('name', '')}")
                count += 1
    return count


async def learn_context(context: Any, pages_answer: bool = True) -> None:
    """Learn a browser context's storage state before its trace or any evidence is written; with
    `pages_answer` False (a page's script never yields, so its storage cannot be read), its cookies only."""
    try:
        if pages_answer:
            learn_state(await context.storage_state())
        else:
            learn_state({"cookies": await context.cookies()})
    except Exception:  # noqa: BLE001 - a closed context: nothing more it can leak
        return
