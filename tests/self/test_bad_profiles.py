"""A bad profile exits 2 with one clear message naming the file, the field path and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthgate.profile import ProfileError, load_profile

GOOD_HEAD = "name: x\nbase_url: http://127.0.0.1:9\n"

# (file content, fragments the message must contain besides the file name)
BAD_PROFILES = {
    "invalid-yaml": ("name: x\nbase_url: [unclosed\n", ["line", "YAML"]),
    "tabs-yaml": ("name: x\n\tbase_url: http://a\n", ["YAML"]),
    "unknown-field": (GOOD_HEAD + "no_such_field: 1\n", ["no_such_field", "unknown field"]),
    "wrong-type": (GOOD_HEAD + "checks: 7\n", ["checks", "list"]),
    "bad-url": ("name: x\nbase_url: ftp://example\n", ["base_url", "http"]),
    "missing-name": ("base_url: http://127.0.0.1:9\n", ["name", "missing"]),
    "bad-regex": (GOOD_HEAD + "pages: [{id: p, path: /, expect: {text_regex: '(unclosed'}}]\n",
                  ["pages[0].expect.text_regex", "regular expression"]),
    "bad-status": (GOOD_HEAD + "checks: [{id: c, request: {path: /}, expect: {status: 999}}]\n",
                   ["checks[0].expect.status", "HTTP status"]),
    "bad-duration": (GOOD_HEAD + "health: {path: /h, expect: {fresh: {timestamp: soon}}}\n",
                     ["health.expect.fresh.timestamp", "duration"]),
    "request-and-steps": (GOOD_HEAD + "checks: [{id: c, request: {path: /}, steps: [{request: {path: /}}]}]\n",
                          ["checks[0]", "exactly one of"]),
    "relative-path": (GOOD_HEAD + "checks: [{id: c, request: {path: api}}]\n",
                      ["checks[0].request.path", "starting with '/'"]),
    "shell-string-rollback": (GOOD_HEAD + "rollback: {command: 'npm run rollback'}\n",
                              ["rollback", "shell: true"]),
    "duplicate-ids": (GOOD_HEAD + "checks: [{id: a, request: {path: /}}, {id: a, request: {path: /x}}]\n",
                      ["unique", "'a'"]),
    "not-a-mapping": ("- just\n- a list\n", ["mapping"]),
    "bad-load-threshold": (GOOD_HEAD + "load: {tasks: [{path: /}], thresholds: {p95: 500}}\n",
                           ["load.thresholds.p95", "unknown field"]),
    "no-base-url": ("name: x\nchecks: [{id: c, request: {path: /}}]\n", ["base_url", "required"]),
}


@pytest.mark.parametrize("name", sorted(BAD_PROFILES))
def test_bad_profile_exits_2_with_clear_message(name: str, tmp_path: Path, cli_in_process) -> None:
    content, fragments = BAD_PROFILES[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(content)
    proc = cli_in_process("run", "--profile", str(path), "--stages", "smoke", "--reports", str(tmp_path / "r"))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert "Traceback" not in output
    assert str(path) in output
    for fragment in fragments:
        assert fragment.lower() in output.lower(), (fragment, output)


def test_missing_file_names_it(tmp_path: Path, cli) -> None:
    path = tmp_path / "nope.yaml"
    proc = cli("run", "--profile", str(path), "--stages", "smoke", timeout=60)
    assert proc.returncode == 2
    assert str(path) in proc.stderr and "not found" in proc.stderr


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "dir.yaml"
    path.mkdir()
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(str(path))


def test_unknown_bundled_name_lists_bundled(cli_in_process) -> None:
    proc = cli_in_process("run", "--profile", "no-such-target")
    assert proc.returncode == 2
    assert "bundled" in proc.stderr and "demo" in proc.stderr


def test_bad_stage_name_is_usage_error(cli_in_process) -> None:
    proc = cli_in_process("run", "--stages", "smoke,warp")
    assert proc.returncode == 2 and "warp" in proc.stderr


@pytest.mark.parametrize("name", ["demo", "coldcopy", "sixdegrees", "manuscript", "umbrella"])
def test_bundled_profiles_are_valid(name: str) -> None:
    profile, path = load_profile(name)
    assert profile.name == name
    assert path.name == f"{name}.yaml"
