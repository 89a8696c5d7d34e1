"""Demo faults a user meets that a gate must not let through (issue 23), each an edit of the healthy release:

- `dashboard-late-error`: the dashboard throws a TypeError 200 ms after it shows the campaign (journeys watch
  every page they visit);
- `forged-token-accepted`: GET /manuscripts answers 200 to any bearer token (auth checks try a forged one);
- `post-cookie-no-flags`: a successful POST /api/generate sets the session cookie without HttpOnly and SameSite
  (hygiene judges every Set-Cookie the run saw, not only its own fetches');
- `session-public-cache`: GET /api/session, a per-session answer, is sent `Cache-Control: public, max-age=600`
  (hygiene:cache-private);
- `untranslated-keys`: two landing texts show raw translation keys in Chinese (the toggle journey checks the
  translations are real);
- `zh-page-500`: GET / answers 500 when Accept-Language prefers Chinese (pages are requested in each language);
- `stored-xss`: the dashboard renders the campaign's fields as HTML (the form journey's XSS canary).

Each page edit replaces exact text of the healthy page or script; a missing marker fails at import.
"""

from __future__ import annotations

from importlib import resources

FAULTS = ("dashboard-late-error", "forged-token-accepted", "post-cookie-no-flags", "session-public-cache",
          "untranslated-keys", "zh-page-500", "stored-xss")

LATE_ERROR_DELAY_MS = 200
_LATE_ERROR_SCRIPT = (
    "<script>(function () { var t = setInterval(function () {"
    " if (!document.querySelector('#campaign .campaign-target')) return; clearInterval(t);"
    f" setTimeout(function () {{ document.querySelector('#campaign .campaign-owner').textContent.trim(); }},"
    f" {LATE_ERROR_DELAY_MS}); }}, 50); }})();</script>\n</body>"
)
_FIELD_AS_TEXT = "p.textContent = fields[i][1];"
_FIELD_AS_HTML = "p.innerHTML = fields[i][1]; // renders what the user typed as markup"
# untranslated-keys: the landing paragraph and the footer lost their Chinese texts; the keys show instead
_UNTRANSLATED = {
    ('data-zh="这是 synthgate 演示目标：一个包含落地页、信息收集表单和 JSON API 的小应用，'
     '每次部署后由 synthgate 把关。"'): 'data-zh="landing.tagline"',
    'data-zh="健康的版本在几毫秒内响应。"': 'data-zh="landing.footer_note"',
}
PUBLIC_CACHE = "public, max-age=600"


def _check_markers() -> None:
    pages = resources.files("synthgate.demo").joinpath("pages")
    script_text = pages.joinpath("app.js").read_text(encoding="utf-8")
    landing = pages.joinpath("landing.html").read_text(encoding="utf-8")
    for marker, text in ((_FIELD_AS_TEXT, script_text), *((m, landing) for m in _UNTRANSLATED)):
        if text.count(marker) != 1:
            raise RuntimeError(f"demo page lost the marker a user fault edits: {marker}")


_check_markers()


def script(fault: str | None, text: str) -> str:
    """The page script as the release carrying `fault` serves it."""
    if fault == "stored-xss":
        return text.replace(_FIELD_AS_TEXT, _FIELD_AS_HTML)
    return text


def page(name: str, fault: str | None, html: str) -> str:
    """A rendered page as the release carrying `fault` serves it."""
    if fault == "dashboard-late-error" and name == "dashboard":
        return html.replace("</body>", _LATE_ERROR_SCRIPT, 1)
    if fault == "untranslated-keys" and name == "landing":
        for marker, key in _UNTRANSLATED.items():
            html = html.replace(marker, key)
    return html


def prefers_chinese(accept_language: str | None) -> bool:
    """Whether an Accept-Language header's first choice is Chinese (zh, zh-CN, zh-Hans...)."""
    first = (accept_language or "").split(",")[0].split(";")[0].strip().lower()
    return first == "zh" or first.startswith("zh-")


def any_bearer_accepted(fault: str | None, authorization: str | None) -> bool:
    """`forged-token-accepted`: any non-empty bearer token passes (no token still does not)."""
    scheme, _, token = (authorization or "").partition(" ")
    return fault == "forged-token-accepted" and scheme.lower() == "bearer" and bool(token.strip())


def cookie_flags_dropped(fault: str | None, method: str, path: str, status: int, cookie: str) -> str:
    """`post-cookie-no-flags`: a successful POST /api/generate sets its cookie without HttpOnly and SameSite."""
    if fault != "post-cookie-no-flags" or method != "POST" or path != "/api/generate" or status != 200:
        return cookie
    return "; ".join(p for p in cookie.split("; ") if p.split("=")[0].lower() not in ("httponly", "samesite"))
