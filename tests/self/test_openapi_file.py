"""`fuzz.openapi` naming a spec file in the team's repository (relative to the profile), and `init --openapi FILE`."""

from __future__ import annotations

from pathlib import Path

import yaml

from synthgate.fuzz.plan import fetch_openapi
from synthgate.profile import load_profile

SPEC = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "paths": {"/v1/health": {"get": {"responses": {"200": {"description": "ok"}}}}}}


def test_a_relative_spec_file_is_read_beside_the_profile(tmp_path: Path) -> None:
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "api.yaml").write_text(yaml.safe_dump(SPEC))
    (tmp_path / "p.yaml").write_text("name: x\nbase_url: http://127.0.0.1:9\nfuzz: {openapi: spec/api.yaml}\n")
    profile, _ = load_profile(str(tmp_path / "p.yaml"))
    assert profile.fuzz is not None and profile.fuzz.openapi == (tmp_path / "spec" / "api.yaml").as_uri()
    document, error, _ = fetch_openapi(profile, "http://127.0.0.1:9", profile.fuzz.openapi)
    assert error is None and document is not None and "/v1/health" in document["paths"]


def test_a_missing_spec_file_is_a_clear_fuzz_error(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("name: x\nbase_url: http://127.0.0.1:9\nfuzz: {openapi: ./nope.json}\n")
    profile, _ = load_profile(str(tmp_path / "p.yaml"))
    assert profile.fuzz is not None and profile.fuzz.openapi is not None
    document, error, _ = fetch_openapi(profile, "http://127.0.0.1:9", profile.fuzz.openapi)
    assert document is None and error is not None and "nope.json" in error and "cannot be read" in error


def test_init_openapi_file_is_written_relative_to_the_profile(tmp_path: Path, cli) -> None:
    (tmp_path / "openapi.json").write_text(yaml.safe_dump(SPEC))
    proc = cli("init", str(tmp_path), "--openapi", str(tmp_path / "openapi.json"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load((tmp_path / "synthgate.yaml").read_text())["fuzz"]["openapi"] == "openapi.json"
    missing = cli("init", str(tmp_path / "other"), "--openapi", "no-such.yaml", cwd=tmp_path)
    assert missing.returncode == 2 and "no-such.yaml: no such file" in missing.stderr
