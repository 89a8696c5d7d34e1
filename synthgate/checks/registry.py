"""Every check kind the smoke stage runs, declared once.

A kind is one `CheckKind`: its name, its plan (the checks the profile declares of it, each with an `id`), its
executor (one planned check with its retries), the bundled smoke suite's fixture it is parametrised into (the
plugin does that, from here), whether its requests are an endpoint's first contact (the cold-start checks), and
whether `synthgate probe` runs it. Everything else reads this table: the plugin's parametrisation, the smoke
stage's planned list and time budget, the gate's default deadline, the cold-start plan and the probe's jobs.

A new kind: its attempt function and plan beside the others of its family (checks/smoke.py, checks/readiness.py,
or a module of its own), one entry in KINDS below, and a test in the bundled smoke suite taking its fixture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from synthgate.checks import cold, forged, languages, readiness, smoke, tls
from synthgate.checks.outcome import Attempted
from synthgate.profile.model import Profile


class Cost(NamedTuple):
    """What one planned check may take: its retries, and the requests each attempt sends (each at the timeout)."""

    retries: int
    requests: int


def _smoke_cost(_profile: Profile, check: smoke.SmokeCheck) -> Cost:
    return Cost(check.retries, check.requests)


def _default_cost(profile: Profile, _check: Any) -> Cost:
    return Cost(profile.defaults.retries, 1)


def _first_contact_cost(_profile: Profile, _check: Any) -> Cost:
    return Cost(0, 1)  # the endpoint's wake-up request, once (the judging reads the ledger)


@dataclass(frozen=True)
class CheckKind:
    """One kind of check: how it is planned, run, parametrised, timed, and who runs it."""

    name: str
    plan: Callable[[Profile], list[Any]]  # the planned checks (each with an `id`), in a stable order
    # runs one planned check with its retries; None: its test judges it itself (cold-start: cold.check)
    execute: Callable[[Any, Profile, str], Attempted] | None
    fixture: str  # the smoke suite's fixture parametrised with the planned checks (its test: tests/smoke/)
    cold: Callable[[Profile], list[cold.ColdSample]] | None = None  # the endpoints its requests touch first
    probed: bool = False  # `synthgate probe` runs it every round
    cost: Callable[[Profile, Any], Cost] = _smoke_cost
    applies: Callable[[str], bool] | None = None  # only for some base URLs (TLS: https); None: every one


class Planned(NamedTuple):
    """A planned check and its kind."""

    kind: CheckKind
    check: Any

    @property
    def id(self) -> str:
        """The check's id."""
        return str(self.check.id)


def cold_endpoints(profile: Profile) -> list[cold.ColdEndpoint]:
    """Every endpoint the smoke checks touch (the kinds with a cold sample), one cold-start check each."""
    return cold.endpoints(profile, [s for kind in KINDS if kind.cold is not None for s in kind.cold(profile)])


KINDS: tuple[CheckKind, ...] = (
    CheckKind("health", smoke.health_checks, smoke.execute, "health_check", smoke.health_cold, probed=True),
    CheckKind("route", smoke.route_checks, smoke.execute, "route_check", smoke.route_cold, probed=True),
    CheckKind("check", smoke.declared_checks, smoke.execute, "declared_check", smoke.declared_cold, probed=True),
    CheckKind("page", smoke.page_checks, smoke.execute, "page_check", smoke.page_cold, probed=True),
    CheckKind("cors", smoke.cors_checks, smoke.execute, "cors_check", smoke.cors_cold, probed=True),
    CheckKind("tls", readiness.tls_checks, smoke.execute, "tls_check", applies=tls.is_https),
    CheckKind("hygiene", readiness.hygiene_checks, smoke.execute, "hygiene_check"),
    CheckKind("links", readiness.links_checks, smoke.execute, "links_check"),
    CheckKind("cold-start", cold_endpoints, None, "cold_endpoint", cost=_first_contact_cost),
    CheckKind("forged", forged.plan, forged.execute, "forged_check", cost=_default_cost),
    CheckKind("language", languages.plan, languages.execute, "language_page", cost=_default_cost),
)
BY_NAME = {kind.name: kind for kind in KINDS}


def kind_plan(kind: CheckKind, profile: Profile, base_url: str | None = None) -> list[Any]:
    """The planned checks of one kind; none when the kind does not apply to `base_url` (None: assume it does)."""
    if base_url is not None and kind.applies is not None and not kind.applies(base_url):
        return []
    return list(kind.plan(profile))


def plan(profile: Profile, base_url: str | None = None, probed: bool = False) -> list[Planned]:
    """Every check the smoke stage may run (or, `probed`, that a probe runs), kind by kind in KINDS' order."""
    return [Planned(kind, check) for kind in KINDS if kind.probed or not probed
            for check in kind_plan(kind, profile, base_url)]


def checks(profile: Profile, base_url: str | None = None, probed: bool = False) -> list[Any]:
    """The planned checks themselves (see `plan`)."""
    return [p.check for p in plan(profile, base_url, probed)]

