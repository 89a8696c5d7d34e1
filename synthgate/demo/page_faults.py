"""Page faults of the demo target that the browser stage must catch: late web vitals and a form that fails.

Each is an edit of exact text in the healthy page or script; a missing marker fails at import, so a change to
the pages cannot silently turn a fault into a healthy release.
"""

from __future__ import annotations

from importlib import resources

# late-lcp: the landing page's main content stays unpainted until a script shows it 3 s after load.
LATE_LCP_DELAY_MS = 3000
_MAIN = "<main>"
_LATE_LCP_SCRIPT = (
    "<script>addEventListener('load', function () { setTimeout(function () {"
    f" document.getElementById('late-main').hidden = false; }}, {LATE_LCP_DELAY_MS}); }});</script>\n</body>"
)
# late-shift: 600 ms after the load event a banner is inserted above the content and pushes all of it down.
LATE_SHIFT_DELAY_MS = 600
LATE_SHIFT_BANNER_PX = 600  # the largest single shift the small landing page allows: CLS about 0.19 at 1280x800
_LATE_SHIFT_SCRIPT = (
    "<script>addEventListener('load', function () { setTimeout(function () {"
    " var b = document.createElement('div'); b.id = 'promo-banner';"
    f" b.style.height = '{LATE_SHIFT_BANNER_PX}px'; b.style.background = '#fde68a';"
    " b.textContent = 'Spring release: now live';"
    f" document.body.insertBefore(b, document.body.firstChild); }}, {LATE_SHIFT_DELAY_MS}); }});</script>\n</body>"
)
# form-405: the intake form posts to the page's own address (GET only: 405) and shows an alert on failure.
_FORM_POST = 'fetch("/api/intake", {'
_FORM_POST_BROKEN = 'fetch("/intake", {'
_FORM_ERROR = 'showError((data && data.error) || "Something went wrong");'
_FORM_ERROR_BROKEN = 'alert("Failed to submit");'

FAULTS = ("late-lcp", "late-shift", "form-405")


def _check_markers() -> None:
    pages = resources.files("synthgate.demo").joinpath("pages")
    script = pages.joinpath("app.js").read_text(encoding="utf-8")
    landing = pages.joinpath("landing.html").read_text(encoding="utf-8")
    for marker, text in ((_FORM_POST, script), (_FORM_ERROR, script), (_MAIN, landing)):
        if text.count(marker) != 1:
            raise RuntimeError(f"demo page lost the marker a page fault edits: {marker}")


_check_markers()


def script(fault: str | None, text: str) -> str:
    """The page script as the release carrying `fault` serves it."""
    if fault == "form-405":
        return text.replace(_FORM_POST, _FORM_POST_BROKEN).replace(_FORM_ERROR, _FORM_ERROR_BROKEN)
    return text


def page(name: str, fault: str | None, html: str) -> str:
    """A rendered page as the release carrying `fault` serves it."""
    if name != "landing":
        return html
    if fault == "late-lcp":
        return html.replace(_MAIN, '<main id="late-main" hidden>', 1).replace("</body>", _LATE_LCP_SCRIPT, 1)
    if fault == "late-shift":
        return html.replace("</body>", _LATE_SHIFT_SCRIPT, 1)
    return html
