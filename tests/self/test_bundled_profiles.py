"""Bundled profiles: every runbook item of RUNBOOK-CHECKS.md is automated by a check or a profile section."""

from __future__ import annotations

import pytest

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


def test_coldcopy_profile_passes_against_the_demo_target(demo_target, tmp_path, cli) -> None:
    """The demo target implements ColdCopy's surface: its smoke checks (bar the page marker) pass there."""
    proc = cli("run", "--profile", "coldcopy", "--base-url", demo_target.url, "--stages", "smoke",
               "--no-rollback", "--reports", str(tmp_path))
    import json

    verdict = json.loads((tmp_path / "verdict.json").read_text())
    failed = {c["id"] for s in verdict["stages"] for c in s["checks"] if c["status"] == "failed"}
    assert failed == {"page:landing"}, proc.stdout  # the demo's landing page does not say "ColdCopy"
    passed = {c["id"] for s in verdict["stages"] for c in s["checks"] if c["status"] == "passed"}
    assert {"generate-rejects-bad-input", "one-free-generation-per-session", "session-endpoint-up"} <= passed
