"""Demo faults the real apps taught (issue 17): a renamed API field and a language choice that is not kept.

- `fields-renamed`: GET /api/session sends `generationsUsed` / `maxGenerations` (ColdCopy's real spelling) instead
  of the contract's `generations_used` / `max_generations`: caught as contract drift by the session step of
  `one-free-generation-per-session`.
- `toggle-not-saved`: the language toggle switches the texts but never stores the choice (SixDegrees' intake page):
  caught by the toggle journeys' `stores-language-zh` step.
"""

from __future__ import annotations

from typing import Any

FAULTS = ("fields-renamed", "toggle-not-saved")
_STORE = 'window.localStorage.setItem("language", lang);'
_STORE_SKIPPED = "/* the choice is not stored (fault toggle-not-saved) */"


def session_body(fault: str | None, body: dict[str, Any]) -> dict[str, Any]:
    """The /api/session answer as the release carrying `fault` sends it."""
    if fault != "fields-renamed":
        return body
    renamed = {"generations_used": "generationsUsed", "max_generations": "maxGenerations"}
    return {renamed.get(k, k): v for k, v in body.items()}


def script(fault: str | None, text: str) -> str:
    """The page script as the release carrying `fault` serves it."""
    if fault != "toggle-not-saved":
        return text
    if _STORE not in text:
        raise RuntimeError(f"demo page script lost the line the toggle-not-saved fault edits: {_STORE}")
    return text.replace(_STORE, _STORE_SKIPPED)
