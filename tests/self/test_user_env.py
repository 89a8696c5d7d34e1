"""Commands synthgate runs for the user (rollback, alert hook) see the user's environment, never synthgate's own."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from synthgate import procs
from synthgate.probe.alerts import CommandChannel
from synthgate.profile.model import Rollback
from synthgate.rollback import run_action

INTERNAL = {"SYNTHGATE_SECRETS_FILE": "/tmp/x/secrets", "SYNTHGATE_AUTH_SESSION": "/tmp/x/auth.json",
            "SYNTHGATE_COLD_LEDGER": "/tmp/x/cold.jsonl", "SYNTHGATE_PARENT_PID": "1"}
DUMP_ENV = [sys.executable, "-c", "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"]


@pytest.fixture
def gate_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of a gate mid-run: its internals, a documented variable and the user's own."""
    for name, value in INTERNAL.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SYNTHGATE_DB", "/tmp/x/history.db")
    monkeypatch.setenv("DEPLOY_TOKEN", "t0k3n")


def test_user_env_keeps_the_users_and_documented_variables_only(gate_env: None) -> None:
    env = procs.user_env({"EXTRA": "1"})
    assert not set(INTERNAL) & set(env)
    assert env["SYNTHGATE_DB"] == "/tmp/x/history.db" and env["DEPLOY_TOKEN"] == "t0k3n" and env["EXTRA"] == "1"
    assert "PATH" in env


def test_the_rollback_command_sees_no_internal_variable(gate_env: None, tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    code, _output, _seconds = run_action(Rollback(command=[*DUMP_ENV, str(out)], env={"ROLLBACK_TO": "v1"}), {})
    seen = json.loads(out.read_text())
    assert code == 0
    assert not set(INTERNAL) & set(seen)
    assert seen["ROLLBACK_TO"] == "v1" and seen["DEPLOY_TOKEN"] == "t0k3n" and seen["SYNTHGATE_DB"]


def test_the_alert_command_sees_no_internal_variable(gate_env: None, tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    channel = CommandChannel(key="alerts[0].command", label="test", timeout_s=30, retries=0,
                             argv=(*DUMP_ENV, str(out)))
    channel.deliver({"event": "opened", "text": "smoke down"})
    seen = json.loads(out.read_text())
    assert not set(INTERNAL) & set(seen)
    assert seen["SYNTHGATE_ALERT_EVENT"] == "opened" and seen["DEPLOY_TOKEN"] == "t0k3n"
