"""Hostile profiles and arguments: exit 2 with a message naming the file or option, quickly, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from synthgate.profile import ProfileError, load_profile
from synthgate.profile.safe_yaml import MAX_DEPTH


def _alias_bomb() -> str:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 10):
        p, n = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{n}: &{n} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]")
    return "\n".join(lines) + "\n"  # 9^10 values once expanded, in 400 bytes


HOSTILE = {
    "alias-bomb": (_alias_bomb(), "aliases expand"),
    "deep-flow": ("name: x\nvars: {v: " + "[" * 100_000 + "]" * 100_000 + "}\n", "nested deeper"),
    "deep-block": ("name: x\n" + "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 10)), "nested deeper"),
    "deep-by-aliases": ("a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 200)),
                        "nesting deeper"),
    "recursive-alias": ("a: &a [*a]\n", "recursive"),
    "nul-bytes": ("name: x\x00\nbase_url: http://127.0.0.1:9\n", "NUL"),
    "huge-file": ("name: x\nvars: {v: '" + "y" * (5 * 1024 * 1024) + "'}\n", "larger than"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_yaml_is_refused_quickly_with_the_file_named(tmp_path: Path, name: str) -> None:
    text, fragment = HOSTILE[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    started = time.monotonic()
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    assert time.monotonic() - started < 5
    assert str(path) in str(caught.value) and fragment in str(caught.value), str(caught.value)


def test_binary_profile_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(bytes(range(256)) * 16)
    with pytest.raises(ProfileError, match="not a text file"):
        load_profile(str(path))


def test_alias_bomb_and_deep_nesting_through_the_cli(tmp_path: Path, cli) -> None:
    for name in ("alias-bomb", "deep-flow"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(HOSTILE[name][0])
        started = time.monotonic()
        proc = cli("run", "--profile", str(path), "--reports", str(tmp_path / "r"), timeout=60)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert time.monotonic() - started < 15
        assert str(path) in proc.stderr and "internal error" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("how", ["--base-url=", "SYNTHGATE_BASE_URL", "API_URL"])
def test_an_empty_base_url_is_set_but_empty_never_the_demo(tmp_path: Path, cli, how: str) -> None:
    args = ["run", "--stages", "smoke", "--reports", str(tmp_path / "r")]
    env = {}
    if how.startswith("--"):
        args.append(how)
    else:
        env[how] = ""
    proc = cli(*args, env=env, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "set but empty" in proc.stderr and (how.strip("=") in proc.stderr), proc.stderr
    assert not (tmp_path / "r" / "verdict.json").exists()  # nothing was gated


def test_unwritable_reports_say_so(tmp_path: Path, cli) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    proc = cli("run", "--stages", "smoke", "--reports", str(blocker / "reports"), timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--reports" in proc.stderr and "internal error" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("value", ["0", "-5", "nan"])
def test_a_bad_deadline_is_a_usage_error(tmp_path: Path, cli, value: str) -> None:
    proc = cli("run", "--stages", "smoke", "--deadline", value, "--reports", str(tmp_path / "r"), timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--deadline" in proc.stderr and "internal error" not in proc.stderr, proc.stderr
