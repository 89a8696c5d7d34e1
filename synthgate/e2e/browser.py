"""Finding a Chromium for the e2e stage, and the flags it is launched with.

Order: `SYNTHGATE_CHROMIUM` (an explicit executable), Playwright's own Chromium when `playwright install
chromium` has put one in its cache, then a system Chromium or Chrome on the search path. A system
`chromium-headless-shell` comes first: synthgate always runs headless, and the shell (Chromium's old headless mode,
Debian package `chromium-headless-shell`) runs the same journeys on a third of the CPU of the full browser
(benchmarks/RESULTS-e2e-browser.md).
`SYNTHGATE_CHROMIUM_SEARCH_PATH` (directories, `os.pathsep`-separated) replaces the whole search, so a test
can point discovery at an empty folder; an empty value searches nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

# Flags a closed-network CI machine needs: no sandbox (containers run as root), no GPU, and none of the
# background traffic (QUIC probes, component and sync updates) that would leave the loopback.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SYSTEM_NAMES = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
                "chrome")
WELL_KNOWN = (
    "/usr/bin/chromium-headless-shell",
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/lib/chromium/chromium",
    "/snap/bin/chromium",
    "/usr/bin/google-chrome",
    "/opt/google/chrome/chrome",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
)
# Where Playwright keeps an installed browser, relative to its revision folder (layouts vary by version/OS).
PLAYWRIGHT_LAYOUTS = (
    "chrome-linux64/chrome",
    "chrome-linux/chrome",
    "chrome-headless-shell-linux64/chrome-headless-shell",
    "chrome-linux/headless_shell",
    "chrome-mac-arm64/Chromium.app/Contents/MacOS/Chromium",
    "chrome-mac/Chromium.app/Contents/MacOS/Chromium",
    "chrome-mac-arm64/Google Chrome for Testing.app/Contents/MacOS/Google Chrome for Testing",
    "chrome-mac-x64/Google Chrome for Testing.app/Contents/MacOS/Google Chrome for Testing",
    "chrome-win64/chrome.exe",
    "chrome-win/chrome.exe",
)

INSTALL_HINT = (
    "install one: `apt-get install chromium chromium-headless-shell` (Debian/Ubuntu, as root; the shell is "
    "lighter), or "
    "`.venv/bin/python -m playwright install chromium` (needs internet), "
    "or set SYNTHGATE_CHROMIUM to a Chromium/Chrome executable"
)


class BrowserNotFound(Exception):
    """No usable Chromium; the message says where synthgate looked and how to install one."""


@dataclass
class BrowserChoice:
    """The Chromium to launch: `executable` None means Playwright's own (it finds it itself)."""

    executable: str | None
    source: str
    args: list[str] = field(default_factory=lambda: list(LAUNCH_ARGS))

    def launch_kwargs(self) -> dict[str, object]:
        """Keyword arguments for Playwright's `chromium.launch` (and pytest-playwright's launch-args fixture)."""
        kwargs: dict[str, object] = {"headless": True, "args": list(self.args)}
        if self.executable:
            kwargs["executable_path"] = self.executable
        return kwargs

    def describe(self) -> str:
        """One line for logs: which browser and where it came from."""
        return f"{self.executable or 'Playwright Chromium'} ({self.source})"


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def playwright_browsers_dir() -> Path:
    """Playwright's browser cache (PLAYWRIGHT_BROWSERS_PATH overrides, as Playwright itself does)."""
    override = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if override and override != "0":
        return Path(override).expanduser()
    if override == "0":  # browsers installed inside the playwright package
        import playwright

        return Path(playwright.__file__).parent / "driver" / "package" / ".local-browsers"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ms-playwright"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "ms-playwright"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ms-playwright"


def _playwright_revisions() -> list[str]:
    """The Chromium revisions this Playwright version launches (from its browsers.json)."""
    try:
        import playwright
    except ImportError:
        return []
    manifest = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    try:
        browsers = json.loads(manifest.read_text(encoding="utf-8"))["browsers"]
    except (OSError, ValueError, KeyError):
        return []
    return [f"{b['name'].replace('-', '_')}-{b['revision']}" for b in browsers
            if b.get("name") in ("chromium", "chromium-headless-shell")]


def find_playwright_chromium() -> Path | None:
    """Playwright's own Chromium for this Playwright version, if `playwright install chromium` put it there."""
    root = playwright_browsers_dir()
    for folder in _playwright_revisions():
        for layout in PLAYWRIGHT_LAYOUTS:
            candidate = root / folder / layout
            if _executable(candidate):
                return candidate
    return None


def _search(dirs: list[str]) -> Path | None:
    for name in SYSTEM_NAMES:
        for folder in dirs:
            if folder and _executable(Path(folder) / name):
                return Path(folder) / name
    return None


def discover() -> BrowserChoice:
    """The Chromium to use, or BrowserNotFound with the install hint."""
    explicit = os.environ.get("SYNTHGATE_CHROMIUM")
    if explicit:
        path = Path(explicit).expanduser()
        resolved = path if path.is_absolute() or os.sep in explicit else Path(shutil.which(explicit) or explicit)
        if not _executable(resolved):
            raise BrowserNotFound(f"SYNTHGATE_CHROMIUM={explicit} is not an executable file; {INSTALL_HINT}")
        return BrowserChoice(str(resolved), "SYNTHGATE_CHROMIUM")
    override = os.environ.get("SYNTHGATE_CHROMIUM_SEARCH_PATH")
    if override is not None:
        dirs = [d for d in override.split(os.pathsep) if d]
        found = _search(dirs)
        if found is None:
            where = ", ".join(dirs) or "(nothing)"
            raise BrowserNotFound(f"no Chromium found for the e2e stage (SYNTHGATE_CHROMIUM_SEARCH_PATH: "
                                  f"searched {where} for {', '.join(SYSTEM_NAMES)}); {INSTALL_HINT}")
        return BrowserChoice(str(found), "SYNTHGATE_CHROMIUM_SEARCH_PATH")
    own = find_playwright_chromium()
    if own is not None:
        return BrowserChoice(None, f"Playwright's Chromium at {own}")
    found = _search(os.environ.get("PATH", "").split(os.pathsep))
    if found is None:
        found = next((Path(p) for p in WELL_KNOWN if _executable(Path(p))), None)
    if found is None:
        raise BrowserNotFound(f"no Chromium found for the e2e stage (looked in {playwright_browsers_dir()}, "
                              f"on PATH for {', '.join(SYSTEM_NAMES)}, and in the usual install folders); "
                              f"{INSTALL_HINT}")
    return BrowserChoice(str(found), "system Chromium")
