"""The wheel built from this repository, installed into a fresh virtualenv: built once per test run and shared
by the self-tests that run synthgate as a user would (test_install, test_examples), across xdist workers too."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest
from shared_once import shared_dir

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The wheel built from the repository (no build isolation: the project's own setuptools, no download)."""
    with shared_dir("dist", tmp_path_factory, worker_id) as (out, done):
        if not done:
            proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                                   "-w", str(out), str(REPO)], capture_output=True, text=True, timeout=300, cwd=out)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return next(out.glob("synthgate-*.whl"))


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A fresh virtualenv with the wheel installed; returns its bin folder."""
    with shared_dir("venv", tmp_path_factory, worker_id) as (home, done):
        bindir = home / "v" / "bin"
        if not done:
            venv.create(home / "v", with_pip=True)
            proc = subprocess.run([str(bindir / "python"), "-m", "pip", "install", "-q",
                                   "--disable-pip-version-check", str(wheel)],
                                  capture_output=True, text=True, timeout=900, cwd=home)
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return bindir
