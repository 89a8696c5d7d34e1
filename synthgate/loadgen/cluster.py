"""Load from several machines on Locust's own master/worker protocol: handshake, profile shipping, drop-outs.

Imported by both locustfiles, so it runs only inside Locust processes (gevent, Locust).

- A worker says hello right after it connected: its synthgate version and, when it was started with a
  profile of its own, that profile's digest. The master refuses a worker whose version or digest differs
  (a `synthgate_refused` message with the reason; the worker logs it and quits with exit code 2), and a
  worker counts as ready, and gets users, only once the master accepted it.
- The profile travels with Locust's spawn message as a custom option (`sg_profile_doc`): the profile as
  written, `${secrets.X}` references unresolved. The worker builds its requests from it when the test
  starts, resolving secrets from its own environment; no secret value is ever on the wire.
- The master counts each worker's requests from its reports (progress shows each worker's rate) and, at
  the end, lists the workers that went missing during the run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import tempfile
import time
from collections import deque
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import STATE_INIT, STATE_MISSING, MasterRunner, WorkerNodes, WorkerRunner

from synthgate import auth
from synthgate.loadgen import client as client_module
from synthgate.loadgen import plugin
from synthgate.loadgen.plan import DEFAULT_PROFILE, build_plan
from synthgate.loadgen.user import make_task
from synthgate.profile import Profile, load_profile

log = logging.getLogger("synthgate.load")
EXIT_REFUSED = 2
RATE_WINDOW_S = 5.0  # each worker's rate in progress lines: requests over the last few seconds


def synthgate_version() -> str:
    """The installed synthgate's version (what a worker must share with its master)."""
    try:
        return package_version("synthgate")
    except PackageNotFoundError:
        return "unknown"


def profile_doc(profile: Profile) -> dict[str, Any]:
    """The profile as shipped to workers: its fields as written, secrets as ${secrets.X} references."""
    return profile.model_dump(mode="json", by_alias=True)


def profile_digest(profile: Profile) -> str:
    """A short digest of the profile's content, the same wherever the same profile is loaded."""
    canon = json.dumps(profile_doc(profile), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


class AcceptedWorkerNodes(WorkerNodes):
    """Locust's worker table, where a worker is "ready" (counted, given users) only once accepted."""

    accepted: set[str]

    @property
    def ready(self) -> list[Any]:  # type: ignore[override]
        return [c for c in self.get_by_state(STATE_INIT) if c.id in getattr(self, "accepted", ())]


class WorkerSeen:
    """What the master knows of one worker: where it runs, what it sent, whether it is still there."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.requests = 0
        self.recent: deque[tuple[float, int]] = deque()  # (monotonic, requests so far), for the rate
        self.started = False  # took part in the test

    def count(self, n: int) -> None:
        """Add the requests of one report."""
        self.requests += n
        now = time.monotonic()
        self.recent.append((now, self.requests))
        while self.recent and now - self.recent[0][0] > RATE_WINDOW_S:
            self.recent.popleft()

    def rate(self) -> float:
        """Requests per second over the last few seconds."""
        if len(self.recent) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self.recent[0], self.recent[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


class ClusterState:
    """The master's (or a worker's) view of the cluster."""

    def __init__(self, environment: Environment) -> None:
        self.env = environment
        self.version = synthgate_version()
        self.digest: str | None = None
        self.workers: dict[str, WorkerSeen] = {}
        self.refused: dict[str, str] = {}
        self.accepted: set[str] = set()
        self.final_dropped: list[str] | None = None  # taken when the test stops, before workers quit

    def option(self, name: str, default: Any = None) -> Any:
        """A parsed command-line option."""
        opts = self.env.parsed_options
        return getattr(opts, name, default) if opts is not None else default

    # --- master -------------------------------------------------------------------------------------
    def setup_master(self, runner: MasterRunner) -> None:
        """Ship the profile with every spawn message; count only accepted workers as ready."""
        profile, _ = load_profile(_profile_spec())
        self.digest = profile_digest(profile)
        opts = self.env.parsed_options
        if opts is not None:
            # a custom option is sent to every worker with the spawn message (Locust's own mechanism)
            opts.sg_profile_doc = profile_doc(profile)
            opts.sg_version = self.version
        runner.clients.__class__ = AcceptedWorkerNodes
        runner.clients.accepted = self.accepted  # type: ignore[attr-defined]
        runner.register_message("synthgate_hello", self.on_hello)

    def on_hello(self, environment: Environment, msg: Any, **_: Any) -> None:
        """Accept a worker, or refuse it with the reason (it quits; it never gets users)."""
        data = msg.data or {}
        node = str(msg.node_id)
        host = str(data.get("host") or "?")
        reason = None
        if data.get("version") != self.version:
            reason = (f"synthgate {data.get('version')} on the worker ({host}), {self.version} on the master: "
                      "install the same synthgate version on every load machine")  # fmt: skip
        elif data.get("digest") and data.get("digest") != self.digest:
            reason = (f"the worker's profile ({data.get('profile')}, digest {data.get('digest')}) differs from "
                      f"the master's (digest {self.digest}): start the worker without --profile (the master sends "
                      "its own), or with the very same profile")  # fmt: skip
        runner = environment.runner
        if reason is not None:
            self.refused[node] = reason
            log.error("synthgate: refused worker %s: %s", node, reason)
            if isinstance(runner, MasterRunner):
                runner.send_message("synthgate_refused", {"reason": reason}, node)
                # forgotten at once: its "quit" must not count as the last worker leaving (Locust would stop)
                if node in runner.clients:
                    del runner.clients[node]
            return
        self.accepted.add(node)
        self.workers[node] = WorkerSeen(host)
        log.info("synthgate: accepted worker %s on %s", node, host)

    def on_test_start_master(self) -> None:
        """Remember which workers take part."""
        runner = self.env.runner
        if not isinstance(runner, MasterRunner):
            return
        self.final_dropped = None
        for client in runner.clients.ready:
            seen = self.workers.setdefault(client.id, WorkerSeen("?"))
            seen.started = True
            seen.requests = 0
            seen.recent.clear()

    def on_report(self, client_id: str, data: dict[str, Any]) -> None:
        """Count a worker's requests from its report."""
        seen = self.workers.get(client_id)
        if seen is not None:
            seen.count(sum(int(d.get("n") or 0) for d in data.get("synthgate") or ()))

    def on_test_stop_master(self) -> None:
        """Note who dropped out, before the workers quit with the master."""
        self.final_dropped = self.dropped()

    def dropped(self) -> list[str]:
        """Workers that took part and are gone or missing (as of the test's stop, once it stopped)."""
        if self.final_dropped is not None:
            return list(self.final_dropped)
        runner = self.env.runner
        clients = runner.clients if isinstance(runner, MasterRunner) else None
        out = []
        for node, seen in self.workers.items():
            if not seen.started or clients is None:
                continue
            client = clients.get(node)
            if client is None or client.state == STATE_MISSING:
                out.append(node)
        return out

    def progress(self) -> list[dict[str, Any]]:
        """Each worker's rate, for the progress line."""
        gone = set(self.dropped())
        return [
            {"id": node[-8:], "host": seen.host, "rps": round(seen.rate(), 1), "requests": seen.requests,
             "missing": node in gone}
            for node, seen in self.workers.items() if seen.started
        ]  # fmt: skip

    def result(self) -> dict[str, Any]:
        """The cluster part of the result file: who took part, who dropped out, who was refused."""
        gone = set(self.dropped())
        return {
            "workers": [
                {"id": node, "host": seen.host, "requests": seen.requests, "dropped": node in gone}
                for node, seen in self.workers.items() if seen.started
            ],
            "dropped": sorted(gone),
            "refused": dict(self.refused),
        }  # fmt: skip

    # --- worker -------------------------------------------------------------------------------------
    def setup_worker(self, runner: WorkerRunner) -> None:
        """Say hello (version, own profile digest) and listen for a refusal."""
        own = self.option("sg_worker_profile", "") or ""
        digest = None
        if own:
            profile, _ = load_profile(own)
            digest = profile_digest(profile)
        runner.register_message("synthgate_refused", self.on_refused)
        runner.send_message(
            "synthgate_hello",
            {"version": self.version, "digest": digest, "profile": own or None, "host": socket.gethostname()},
        )

    def on_refused(self, environment: Environment, msg: Any, **_: Any) -> None:
        """The master refused this worker: say why and quit."""
        reason = (msg.data or {}).get("reason", "no reason given")
        log.error("synthgate: this worker was refused by the master: %s", reason)
        environment.process_exit_code = EXIT_REFUSED
        runner = environment.runner
        if runner is not None:
            gevent.spawn(runner.quit)

    def configure_users(self) -> None:
        """Build the profile's requests from what the master sent; secrets from this machine's environment."""
        doc = self.option("sg_profile_doc")
        if not doc:
            return
        profile = Profile.model_validate(doc)
        client_module.MAX_RESPONSE_BYTES = profile.defaults.max_body_bytes
        if profile.auth is not None and self.env.host:
            # the worker logs in itself, with its own environment's secrets: no session crosses the wire
            session, tried = auth.start(profile, self.env.host, Path(tempfile.mkdtemp(prefix="synthgate-worker-")))
            if session is None:
                log.error("synthgate: this worker's login (the profile's auth: section) failed: %s", tried.message
                          if tried is not None else "?")  # fmt: skip
        plan = build_plan(profile)
        tasks = [make_task(p) for p in plan.requests for _ in range(max(1, p.weight))]
        for cls in self.env.user_classes:
            cls.tasks = tasks
            cls.host = self.env.host
            cls.network_timeout = plan.timeout_s


def _profile_spec() -> str:
    return os.environ.get("SYNTHGATE_PROFILE") or DEFAULT_PROFILE


_STATES: dict[int, ClusterState] = {}


def cluster_state(environment: Environment) -> ClusterState:
    """The cluster state of an environment."""
    state = _STATES.get(id(environment))
    if state is None:
        state = _STATES[id(environment)] = ClusterState(environment)
    return state


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    parser.add_argument("--sg-worker-profile", default="", include_in_web_ui=False,
                        help="synthgate worker: this machine's profile, checked to match the master's")  # fmt: skip


@events.init.add_listener
def _on_init(environment: Environment, **_kw: Any) -> None:
    runner = environment.runner
    state = cluster_state(environment)
    if isinstance(runner, MasterRunner):
        state.setup_master(runner)
        load = plugin.state_for(environment)
        load.result_extras.append(lambda: {"cluster": state.result()})
        load.progress_extras.append(lambda: {"workers": state.progress()})
    elif isinstance(runner, WorkerRunner):
        state.setup_worker(runner)


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_kw: Any) -> None:
    runner = environment.runner
    state = cluster_state(environment)
    if isinstance(runner, WorkerRunner):
        state.configure_users()
    elif isinstance(runner, MasterRunner):
        state.on_test_start_master()


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_kw: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        cluster_state(environment).on_test_stop_master()


@events.worker_report.add_listener
def _on_worker_report(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    for state in list(_STATES.values()):
        if isinstance(state.env.runner, MasterRunner):
            state.on_report(client_id, data)
