"""The demo target's HTML pages (templates, style and script under pages/), as each release serves them."""

from __future__ import annotations

from importlib import resources

from synthgate.demo import contract_faults, page_faults, user_faults

PAGE_NAMES = ("landing", "intake", "dashboard", "not_found")


def _load_page_asset(name: str) -> str:
    return resources.files("synthgate.demo").joinpath("pages", name).read_text(encoding="utf-8")


# Fault variants of the page script are edits of exact lines; a missing marker fails at import.
_TOGGLE_LINE = "setLanguage(next); // @toggle"
_TOGGLE_BROKEN = 'document.documentElement.setAttribute("data-pending-language", next); // @toggle'
_INTAKE_LINE = 'location.href = "/dashboard?campaign=" + encodeURIComponent(data.campaign_id); // @intake-success'
_INTAKE_BROKEN = 'location.href = "/dashboard"; // @intake-success'
_CONSOLE_ERROR_SCRIPT = (
    '<script>console.error("analytics: failed to initialise");window.sgAnalytics.track("landing");</script>\n</body>'
)


class Pages:
    """The HTML pages, rendered once per (page, fault) and kept in memory."""

    def __init__(self) -> None:
        self._script = _load_page_asset("app.js")
        self._style = _load_page_asset("style.css")
        for marker in (_TOGGLE_LINE, _INTAKE_LINE):
            if marker not in self._script:
                raise RuntimeError(f"demo page script lost its fault marker: {marker}")
        self._templates = {name: _load_page_asset(f"{name}.html") for name in PAGE_NAMES}
        self._cache: dict[tuple[str, str | None], bytes] = {}

    def render(self, name: str, fault: str | None) -> bytes:
        """The page `name` as the release carrying `fault` serves it."""
        key = (name, fault)
        page = self._cache.get(key)
        if page is None:
            script = self._script
            if fault == "toggle-broken":
                script = script.replace(_TOGGLE_LINE, _TOGGLE_BROKEN)
            if fault == "intake-broken":
                script = script.replace(_INTAKE_LINE, _INTAKE_BROKEN)
            script = page_faults.script(fault, script)
            script = contract_faults.script(fault, script)
            script = user_faults.script(fault, script)
            html = self._templates[name].replace("/*STYLE*/", self._style).replace("/*SCRIPT*/", script)
            if fault == "console-error" and name == "landing":
                html = html.replace("</body>", _CONSOLE_ERROR_SCRIPT, 1)
            html = page_faults.page(name, fault, html)
            html = user_faults.page(name, fault, html)
            page = html.encode("utf-8")
            self._cache[key] = page
        return page
