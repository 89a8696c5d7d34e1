"""Two gates of one deployment failing at the same time roll it back once; both verify."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from verdicts import read_verdict

from synthgate.demo import releases
from synthgate.demo.server import EmbeddedTarget


def test_concurrent_gates_roll_back_once(tmp_path: Path) -> None:
    count = tmp_path / "rollbacks.txt"
    data = yaml.safe_load(Path("targets/demo.yaml").read_text())
    data["rollback"] = {"command": ["sh", "-c", f'echo run >> "{count}" && sleep 1 && synthgate demo rollback'],
                        "timeout_s": 30, "on": ["fail"]}
    profile = tmp_path / "demo-counting.yaml"
    profile.write_text(yaml.safe_dump(data))
    with EmbeddedTarget() as target:
        releases.deploy(target.state_path, "health-500")
        env = {**os.environ, "SYNTHGATE_DEMO_STATE": str(target.state_path)}
        gates = [subprocess.Popen([sys.executable, "-m", "synthgate", "run", "--profile", str(profile),
                                   "--base-url", target.url, "--stages", "smoke", "--baseline", "none",
                                   "--reports", str(tmp_path / f"r{n}")], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for n in range(2)]
        outputs = [g.communicate(timeout=180)[0] for g in gates]
        codes = [g.returncode for g in gates]
        state = releases.read_state(target.state_path)
    assert codes == [1, 1], outputs
    assert count.read_text().splitlines() == ["run"]  # the action ran once
    verdicts = [read_verdict(tmp_path / f"r{n}") for n in range(2)]
    assert all(v["rollback"]["triggered"] and v["rollback"]["verified"] for v in verdicts)
    assert sum("only verifying" in v["rollback"]["message"] for v in verdicts) == 1
    assert state["current"]["fault"] is None
