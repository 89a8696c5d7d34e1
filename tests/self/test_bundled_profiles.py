"""Bundled profiles: every runbook item of RUNBOOK-CHECKS.md is automated by a check or a profile section."""

from __future__ import annotations

import pytest
from verdicts import read_verdict

from synthgate.profile import Profile, load_profile

RUNBOOK_ITEMS = {"coldcopy": range(1, 7), "manuscript": range(7, 13), "sixdegrees": range(13, 23),
                 "umbrella": range(23, 31)}


def covered_items(profile: Profile) -> dict[int, list[str]]:
    """runbook item -> what covers it (check ids, or 'section:<name>')."""
    out: dict[int, list[str]] = {}
    entries = [(c.id, c.runbook) for c in profile.checks] + [(p.id, p.runbook) for p in profile.pages]
    entries += [(f"route-exists:{r.path}", r.runbook) for r in profile.routes]
    entries += [("security", profile.security.runbook)]
    entries += [(f"journey:{j.id}", j.runbook) for j in profile.journeys]
    if profile.health:
        entries.append((profile.health.id, profile.health.runbook))
    for cid, items in entries:
        for item in items:
            out.setdefault(item, []).append(cid)
    for note in profile.runbook_notes:
        out.setdefault(note.runbook, []).append(f"section:{note.covered_by}")
    return out


def section_present(profile: Profile, section: str) -> bool:
    return {
        "load": profile.load is not None, "probe": True, "e2e": bool(profile.journeys),
        "fuzz": profile.fuzz is not None, "rollback": profile.rollback is not None,
        "baseline": profile.baseline.enabled, "not-automatable": True,
    }[section]


@pytest.mark.parametrize("name", sorted(RUNBOOK_ITEMS))
def test_every_runbook_item_is_automated_or_explained(name: str) -> None:
    # load_profile validates: the bundled profiles' validity is tested here (and `synthgate validate` exits 0 on
    # one in test_user_checks, the installed wheel's schema accepts them all in test_install)
    profile, _ = load_profile(name)
    covered = covered_items(profile)
    missing = [i for i in RUNBOOK_ITEMS[name] if i not in covered]
    assert missing == [], f"{name}: runbook items without a check: {missing}"
    for item, by in covered.items():
        for entry in by:
            if entry.startswith("section:"):
                section = entry.split(":", 1)[1]
                assert section_present(profile, section), f"{name}: item {item} points at missing {section}"
    foreign = [i for i in covered if i not in RUNBOOK_ITEMS[name]]
    assert foreign == [], f"{name}: refers to another app's runbook items {foreign}"


@pytest.mark.parametrize("name", sorted(RUNBOOK_ITEMS))
def test_profiles_mark_synthetic_traffic_and_keep_production_default_only(name: str) -> None:
    profile, _ = load_profile(name)
    assert profile.headers.get("X-Synthetic-Check") == "synthgate"
    assert profile.base_url and profile.base_url.startswith("https://")
    assert profile.rollback is not None and isinstance(profile.rollback.command, list)


def _smoke_on_demo(cli, name: str, url: str, reports) -> dict[str, dict]:

    cli("run", "--profile", name, "--base-url", url, "--stages", "smoke", "--no-rollback", "--baseline", "none",
        "--reports", str(reports))
    verdict = read_verdict(reports)
    return {c["id"]: c for s in verdict["stages"] for c in s["checks"]}


def test_coldcopy_profile_on_the_demo_target(demo_target, tmp_path, cli) -> None:
    """The demo implements ColdCopy's behaviour with snake_case session fields and a server-rendered landing page:
    the behaviour checks pass, the field names are reported as contract drift (ColdCopy itself sends camelCase),
    and the SPA-shell marker is missing."""
    checks = _smoke_on_demo(cli, "coldcopy", demo_target.url, tmp_path)
    failed = {cid for cid, c in checks.items() if c["status"] == "failed" and not cid.startswith(("hygiene:", "tls:"))}
    assert failed == {"page:landing", "session-endpoint-up", "one-free-generation-per-session"}, checks
    for cid in ("session-endpoint-up", "one-free-generation-per-session"):
        assert checks[cid]["contract_drift"] is True, checks[cid]
        assert "contract drift: " in checks[cid]["message"], checks[cid]
    assert "generations_used" in checks["session-endpoint-up"]["message"]
    passed = {cid for cid, c in checks.items() if c["status"] == "passed"}
    assert {"generate-rejects-bad-input", "generate-rejects-malformed-json",
            "route-exists:POST /api/generate"} <= passed


def test_manuscript_and_umbrella_profiles_on_the_demo_target(demo_target, tmp_path, cli) -> None:
    """ManuScript's auth surface and Umbrella's health endpoint are the demo's: those checks pass there."""
    ms = _smoke_on_demo(cli, "manuscript", demo_target.url, tmp_path / "ms")
    for cid in ("api-up", "manuscripts-require-auth", "manuscripts-reject-bad-token", "login-rejects-bad-credentials",
                "login-rejects-malformed-json", "password-reset-never-500", "password-reset-rejects-malformed-json"):
        assert ms[cid]["status"] == "passed", ms[cid]
    um = _smoke_on_demo(cli, "umbrella", demo_target.url, tmp_path / "um")
    assert um["health"]["status"] == "passed", um["health"]
    # the demo has no Clerk-protected /v1/me: the surface differs there, and the gate says so (404), never passes
    assert um["protected-endpoint-requires-auth"]["status"] == "failed"
