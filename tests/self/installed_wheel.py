"""The wheel built from this repository, installed into a fresh virtualenv: built once per test run and shared
by the self-tests that run synthgate as a user would (test_install, test_examples), across xdist workers too.

The build starts in a background thread when the session starts (`prebuild`, an autouse fixture), and the tests
that need it run last (conftest.py), so nobody waits for the minute it takes.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest
from shared_once import shared_dir

REPO = Path(__file__).resolve().parents[2]
USERS = frozenset({"installed", "wheel"})  # the fixtures; conftest.py runs their tests last


def _build_wheel(factory: pytest.TempPathFactory, worker_id: str) -> Path:
    with shared_dir("dist", factory, worker_id) as (out, done):
        if not done:
            proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                                   "-w", str(out), str(REPO)], capture_output=True, text=True, timeout=300, cwd=out)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return next(out.glob("synthgate-*.whl"))


def _install(wheel: Path, factory: pytest.TempPathFactory, worker_id: str) -> Path:
    with shared_dir("venv", factory, worker_id) as (home, done):
        bindir = home / "v" / "bin"
        if not done:
            venv.create(home / "v", with_pip=True)
            # --no-compile: the tests import a fraction of the dependencies; compiling them all took 10 s of CPU
            proc = subprocess.run([str(bindir / "python"), "-m", "pip", "install", "-q", "--no-compile",
                                   "--disable-pip-version-check", str(wheel)],
                                  capture_output=True, text=True, timeout=900, cwd=home)
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return bindir


@pytest.fixture(scope="session", autouse=True)
def prebuild(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, worker_id: str
             ) -> Iterator[None]:
    """One process of the run (the first xdist worker, or the only process) starts the build in the background,
    when a selected test needs it."""
    thread = None
    needed = any(USERS & set(getattr(item, "fixturenames", ())) for item in request.session.items)
    if needed and worker_id in ("master", "gw0"):
        # Create the session's base temp folder here, before the thread: getbasetemp() is not thread-safe, and a
        # test fixture racing the build thread for it failed with FileExistsError.
        tmp_path_factory.getbasetemp()
        thread = threading.Thread(target=lambda: _install(_build_wheel(tmp_path_factory, worker_id),
                                                          tmp_path_factory, worker_id), daemon=True)
        thread.start()
    yield
    if thread is not None:
        thread.join(timeout=900)  # never leave a half-written virtualenv behind a finished session


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The wheel built from the repository (no build isolation: the project's own setuptools, no download)."""
    return _build_wheel(tmp_path_factory, worker_id)


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A fresh virtualenv with the wheel installed; returns its bin folder."""
    return _install(wheel, tmp_path_factory, worker_id)
