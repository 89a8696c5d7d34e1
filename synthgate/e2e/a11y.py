"""Accessibility: axe-core, injected through Playwright into a journey's page, judged by impact.

axe-core comes from the `axe-playwright-python` package, which ships its `axe.min.js` (MPL-2.0, Deque
Systems); synthgate only injects the script and calls `axe.run`, so the rules are axe's own. Violations of an
impact listed in `e2e.a11y.fail_on` (serious and critical by default) fail the `<journey>.a11y` check; the
others are reported in its message and details.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from synthgate.profile.a11y import A11yConfig

IMPACT_ORDER = ("critical", "serious", "moderate", "minor")
MAX_NODES = 5  # per violation, in the details: enough to find the element, not a dump of the page


@functools.cache
def axe_script() -> str:
    """axe-core's axe.min.js as shipped by axe-playwright-python (read once per process)."""
    from importlib import resources

    return resources.files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")


def run_options(config: A11yConfig) -> dict[str, Any]:
    """The `axe.run` options for a profile's settings."""
    options: dict[str, Any] = {"resultTypes": ["violations"]}
    if config.tags:
        options["runOnly"] = {"type": "tag", "values": list(config.tags)}
    if config.ignore_rules:
        options["rules"] = {rule: {"enabled": False} for rule in config.ignore_rules}
    return options


@dataclass
class Violation:
    """One axe rule the page breaks: id, impact, what it means, where (CSS targets)."""

    rule: str
    impact: str
    help: str
    help_url: str
    targets: list[str] = field(default_factory=list)
    count: int = 0

    def describe(self) -> str:
        """`label (critical): Form elements must have labels -- #target_company`."""
        where = ", ".join(self.targets[:3]) + (f" (+{self.count - 3} more)" if self.count > 3 else "")
        return f"{self.rule} ({self.impact}): {self.help} -- {where}" if where else f"{self.rule} ({self.impact})"


@dataclass
class Scan:
    """What axe found in one page, split into what fails the check and what is only reported."""

    url: str
    version: str
    failing: list[Violation]
    reported: list[Violation]

    @property
    def message(self) -> str:
        """One line for the check."""
        engine = f"axe-core {self.version}" if self.version else "axe-core"
        also = ""
        if self.reported:
            also = f"; reported, not failing: {'; '.join(v.describe() for v in self.reported[:5])}"
        if self.failing:
            return (f"{len(self.failing)} accessibility violation(s) at {self.url} ({engine}): "
                    + "; ".join(v.describe() for v in self.failing[:5]) + also)
        if self.reported:
            return f"no violation that fails at {self.url} ({engine}){also}"
        return f"no accessibility violation at {self.url} ({engine})"

    def details(self) -> dict[str, Any]:
        """Every violation with its impact, help link and element targets."""
        def one(v: Violation) -> dict[str, Any]:
            return {"rule": v.rule, "impact": v.impact, "help": v.help, "help_url": v.help_url,
                    "targets": v.targets, "nodes": v.count}

        return {"a11y_url": self.url, "axe_version": self.version,
                "a11y_failing": [one(v) for v in self.failing], "a11y_reported": [one(v) for v in self.reported],
                "findings": self.finding_keys()}

    def finding_keys(self) -> list[str]:
        """Each failing violation on each element, as stable text (`rule (impact) at target`), for `new_only`."""
        keys = {f"{v.rule} ({v.impact}) at {target}" for v in self.failing for target in (v.targets or ["page"])}
        return sorted(keys)


def _violations(raw: list[dict[str, Any]]) -> list[Violation]:
    out = []
    for item in raw:
        nodes = item.get("nodes") or []
        targets = [" ".join(str(t) for t in node.get("target", [])) for node in nodes[:MAX_NODES]]
        out.append(Violation(rule=str(item.get("id")), impact=str(item.get("impact") or "minor"),
                             help=str(item.get("help", "")), help_url=str(item.get("helpUrl", "")),
                             targets=targets, count=len(nodes)))
    return sorted(out, key=lambda v: (IMPACT_ORDER.index(v.impact) if v.impact in IMPACT_ORDER else 9, v.rule))


def judge(raw: dict[str, Any], config: A11yConfig, url: str) -> Scan:
    """Split axe's result into failing and reported violations by the profile's `fail_on` impacts."""
    found = _violations(raw.get("violations") or [])
    failing = [v for v in found if v.impact in config.fail_on]
    reported = [v for v in found if v.impact not in config.fail_on]
    version = str((raw.get("testEngine") or {}).get("version", ""))
    return Scan(url=url, version=version, failing=failing, reported=reported)


async def scan(page: Any, config: A11yConfig) -> Scan:
    """Inject axe-core into the page (once) and run it on the whole document; raises what Playwright raises."""
    options = run_options(config)
    raw = await page.evaluate(_RUN_IF_LOADED, options)  # one round trip when the page has axe already
    if raw is None:
        await page.evaluate(axe_script())  # evaluate runs in the page's main world, CSP does not apply to it
        raw = await page.evaluate(_RUN_IF_LOADED, options)
    if raw is None:
        raise RuntimeError("axe-core did not load in the page")
    return judge(raw, config, page.url)


_RUN_IF_LOADED = """
(options) => typeof window.axe === "object" && typeof window.axe.run === "function"
  ? window.axe.run(document, options) : null
"""
