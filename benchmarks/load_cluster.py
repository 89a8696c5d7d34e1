"""Load delivered by 1, 2 and 3 remote workers on this machine: `synthgate load --master` on 127.0.0.2 and
`synthgate load --worker` processes started from empty folders, against the embedded demo target.

For each worker count and each asked open-model rate, one run of `--duration` seconds; prints one line per
run (asked, delivered req/s, P95, verdict) and a JSON list last.

    python benchmarks/load_cluster.py --rates 300,1500 --workers 1,2,3 --duration 15
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from synthgate.bundled import targets_dir

SG = Path(sys.executable).with_name("synthgate")


def free_port(host: str = "127.0.0.1") -> int:
    """A free TCP port on `host`."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def one_run(tmp: Path, url: str, profile: Path, workers: int, rate: float, duration: float) -> dict[str, object]:
    """A master and `workers` workers at `rate` req/s: what the verdict says."""
    port = free_port("127.0.0.2")
    reports = tmp / f"r-{workers}-{rate:g}"
    master = subprocess.Popen([str(SG), "load", "--profile", str(profile), "--base-url", url, "--master",
                               "--expect-workers", str(workers), "--bind", f"127.0.0.2:{port}", "--arrival-rate",
                               f"{rate:g}", "--duration", f"{duration:g}", "--users", str(max(30, int(rate / 10))),
                               "--reports", str(reports)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = []
    for i in range(workers):
        folder = tmp / f"w-{workers}-{rate:g}-{i}"
        folder.mkdir()
        procs.append(subprocess.Popen([str(SG), "load", "--worker", "--master-host", f"127.0.0.2:{port}"],
                                      cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    code = master.wait(timeout=duration + 300)
    for p in procs:
        p.wait(timeout=30)
    verdict = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    load = verdict.get("load") or {}
    return {"workers": workers, "asked_rps": rate, "delivered_rps": load.get("rps"), "p95_ms": load.get("p95_ms"),
            "requests": load.get("requests"), "verdict": verdict["verdict"], "exit": code,
            "reason": str(verdict.get("reason", ""))[:200]}


def main() -> None:
    """Start the demo, run every (workers, rate) pair, print the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="300,1500")
    ap.add_argument("--workers", default="1,2,3")
    ap.add_argument("--duration", type=float, default=15.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="synthgate-load-cluster-") as name:
        tmp = Path(name)
        profile = yaml.safe_load((targets_dir() / "demo.yaml").read_text(encoding="utf-8"))
        profile.pop("embedded_demo", None)
        profile["name"] = "distributed"
        (tmp / "p.yaml").write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
        port = free_port()
        env = {**os.environ, "SYNTHGATE_HOME": str(tmp / "home")}
        demo = subprocess.Popen([str(SG), "demo", "serve", "--port", str(port), "--state", str(tmp / "demo.json")],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.2)
            rows = []
            for rate in (float(r) for r in args.rates.split(",")):
                for n in (int(w) for w in args.workers.split(",")):
                    row = one_run(tmp, url, tmp / "p.yaml", n, rate, args.duration)
                    print(row, file=sys.stderr, flush=True)
                    rows.append(row)
        finally:
            demo.terminate()
            demo.wait(timeout=10)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
