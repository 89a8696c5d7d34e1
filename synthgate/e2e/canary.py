"""The XSS canary of form journeys: one more pass through the form with a harmless script canary in one text field.

The canary is a unique marker followed by markup that would run `window.__sg_xss = 1` if a page rendered the value
as HTML. An init script turns that assignment into a call back to the runner, on every page of the context, so
the canary is caught wherever it runs: the destination, or any page the journey visits after it.
"""

from __future__ import annotations

import secrets

BINDING = "__synthgateXss"
# every page of the context: assigning window.__sg_xss reports the page it ran on
INIT_SCRIPT = f"""
(() => {{
  let value;
  Object.defineProperty(window, "__sg_xss", {{
    configurable: true,
    get() {{ return value; }},
    set(v) {{ value = v; try {{ window.{BINDING}(location.href); }} catch (e) {{}} }},
  }});
}})();
"""
# which of the given selectors are free-text fields (a canary in an email field would only be refused)
TEXT_FIELDS_JS = """
(selectors) => selectors.filter((s) => {
  const el = document.querySelector(s);
  if (!el) return false;
  if (el.tagName === "TEXTAREA") return true;
  return el.tagName === "INPUT" && ["text", "search", ""].includes((el.getAttribute("type") || "").toLowerCase());
})
"""


def make() -> tuple[str, str]:
    """(marker, value): the value breaks out of text, attribute and tag contexts, and is harmless if it runs."""
    marker = f"sgxss{secrets.token_hex(4)}"
    return marker, f"{marker}\"'><img src=x onerror=\"window.__sg_xss=1\">"


def candidates(fields: dict[str, str | bool], shown_back: set[str]) -> list[str]:
    """Text fields in the order a canary tries them: those whose value the destination shows back first."""
    texts = [s for s, v in fields.items() if isinstance(v, str) and "${" not in v]
    return [s for s in texts if fields[s] in shown_back] + [s for s in texts if fields[s] not in shown_back]
