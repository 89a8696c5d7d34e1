"""The run context: one private file, named by one variable, through which a run's children get its state."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from synthgate import procs, run_context

READ_IN_CHILD = ("import json; from synthgate import run_context; "
                 "print(run_context.current().model_dump_json(exclude_none=True))")


@pytest.fixture
def no_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process with no run context yet (whatever an earlier test in this process opened)."""
    monkeypatch.delenv(run_context.CONTEXT_ENV, raising=False)


def _child_view() -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", READ_IN_CHILD], capture_output=True, text=True, check=True,
                         env=dict(os.environ), timeout=60).stdout
    return json.loads(out)


def test_a_child_reads_what_the_gate_wrote_through_one_variable(no_context: None, tmp_path: Path) -> None:
    before = set(os.environ)
    file = run_context.open_context(tmp_path / ".work")
    try:
        assert file == (tmp_path / ".work" / run_context.FILE_NAME).resolve()
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        run_context.update(cold_ledger="/r/.work/cold.jsonl", cold_origin="http://127.0.0.1:1",
                           load_user_class="fasthttp")
        seen = _child_view()
        assert seen == {"parent_pid": os.getpid(), "cold_ledger": "/r/.work/cold.jsonl",
                        "cold_origin": "http://127.0.0.1:1", "load_user_class": "fasthttp"}
        run_context.update(cold_ledger=None)
        assert "cold_ledger" not in _child_view()  # a later change reaches children started later
        assert set(os.environ) - before == {run_context.CONTEXT_ENV}  # the one variable the children inherit
        assert run_context.CONTEXT_ENV not in procs.user_env()  # commands run for the user never see it
    finally:
        run_context.close_context(file)
    assert not file.exists() and run_context.CONTEXT_ENV not in os.environ


def test_a_misspelt_field_fails_in_the_writer(no_context: None) -> None:
    with pytest.raises(ValueError, match="cold_ledgr"):
        run_context.update(cold_ledgr="/x")


def test_without_a_gate_the_first_write_makes_a_private_context(no_context: None) -> None:
    run_context.update(auth_session="/tmp/x/auth-session.json")
    file = run_context.path()
    try:
        assert file is not None and stat.S_IMODE(file.parent.stat().st_mode) == 0o700
        assert _child_view()["auth_session"] == "/tmp/x/auth-session.json"
    finally:
        assert file is not None
        run_context.close_context(file)
    assert not file.exists() and not file.parent.exists()


def test_a_nested_context_keeps_the_secrets_file_and_gives_the_outer_one_back(no_context: None,
                                                                               tmp_path: Path) -> None:
    outer = run_context.open_context(tmp_path / "outer")
    try:
        run_context.update(secrets_file="/tmp/s/secrets.jsonl", auth_session="/outer/auth.json")
        inner = run_context.open_context(tmp_path / "inner")
        assert run_context.current().secrets_file == "/tmp/s/secrets.jsonl"
        assert run_context.current().auth_session is None  # the nested gate logs in itself, if at all
        run_context.close_context(inner)
        assert run_context.path() == outer and run_context.current().auth_session == "/outer/auth.json"
    finally:
        run_context.close_context(outer)


def test_a_deleted_secrets_file_is_withdrawn_from_every_context_this_process_opened(no_context: None,
                                                                                   tmp_path: Path) -> None:
    outer = run_context.open_context(tmp_path / "outer")
    try:
        run_context.update(secrets_file="/tmp/s/secrets.jsonl")
        inner = run_context.open_context(tmp_path / "inner")  # a gate run where the file was already shared
        run_context.withdraw("secrets_file", "/tmp/s/secrets.jsonl")
        assert run_context.current().secrets_file is None
        run_context.close_context(inner)
        assert run_context.current().secrets_file is None  # the enclosing context no longer names a deleted file
    finally:
        run_context.close_context(outer)
