"""The demo target in a child process (`EmbeddedTarget`); the child itself runs synthgate.demo.serve."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

from synthgate import run_context
from synthgate.demo.faults import check_fault
from synthgate.demo.tls import tls_dir_for, uses_tls

READY_TIMEOUT_S = 15.0
READY_PATH = "/__synthgate/ready"
STOP_TIMEOUT_S = 5.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedTarget:
    """The demo target in a child process on a free loopback port, with its state in a fresh temp dir."""

    def __init__(self, fault: str | None = None, host: str = "127.0.0.1", tls: bool = False) -> None:
        self.fault = check_fault(fault)
        self.tls = uses_tls(self.fault, tls)
        self.ca_bundle: Path | None = None  # the CA to trust when serving HTTPS
        self._saved_ca: str | None = None
        self.host = host
        self.port = 0
        self.url = ""
        self._dir: Path | None = None
        self.state_path = Path()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None
        self._lifeline: int | None = None  # write end of the pipe the child watches

    def __enter__(self) -> EmbeddedTarget:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the server and wait until /v1/health answers (RuntimeError with its stderr if not)."""
        self._dir = Path(tempfile.mkdtemp(prefix="synthgate-demo-"))
        self.state_path = self._dir / "demo.json"
        self._log = self._dir / "server.log"
        self.port = free_port(self.host)
        self.url = f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"
        cmd = [
            sys.executable,
            "-m",
            "synthgate.demo.serve",
            "--port",
            str(self.port),
            "--host",
            self.host,
            "--state",
            str(self.state_path),
        ]
        if self.fault:
            cmd += ["--fault", self.fault]
        # the child watches a pipe whose only write end is ours: when this process ends in any way (kill -9
        # included) the kernel closes it, the child reads EOF and exits; no orphaned target keeps its port
        lifeline_r, self._lifeline = os.pipe()
        cmd += ["--parent-fd", str(lifeline_r)]
        if self.tls:
            cmd.append("--tls")
        # stderr to a file, not a pipe: nobody reads a pipe while the server runs, and a full one blocks it.
        with open(self._log, "wb") as log:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          pass_fds=(lifeline_r,))
        os.close(lifeline_r)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        if self.tls:  # hand the CA to every client of this process and its stage children
            self.ca_bundle = tls_dir_for(self.state_path) / "ca.pem"
            self._saved_ca = run_context.current().ca_bundle
            run_context.update(ca_bundle=str(self.ca_bundle))

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        with httpx.Client(timeout=1.0, verify=False) as client:  # only "is it up": the CA is checked later
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    raise RuntimeError(
                        f"demo target exited with code {self._proc.returncode} before answering:\n{self._output()}"
                    )
                try:
                    # any status: the server is up. Not an endpoint of the app (it answers 404), so the gate's own
                    # first request to /v1/health is the one that meets a cold start (`cold-start-slow`)
                    client.get(f"{self.url}{READY_PATH}")
                    return
                except httpx.HTTPError:
                    time.sleep(0.05)
        raise RuntimeError(
            f"demo target did not answer {self.url}{READY_PATH} within {READY_TIMEOUT_S:.0f} s:\n{self._output()}"
        )

    def _output(self) -> str:
        if self._log is None or not self._log.exists():
            return ""
        return self._log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """Stop the server (terminate, then kill after 5 s) and remove its temp dir."""
        proc, self._proc = self._proc, None
        if self.ca_bundle is not None:
            run_context.update(ca_bundle=self._saved_ca)
            self.ca_bundle = None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._lifeline is not None:
            with contextlib.suppress(OSError):
                os.close(self._lifeline)
            self._lifeline = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
