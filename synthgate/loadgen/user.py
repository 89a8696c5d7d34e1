"""synthgate's fast Locust User, and the profile's load tasks as Locust tasks.

`FastUser` is a regular `locust.User`: the web UI, `--headless`, `--master/--worker`, `tasks`, `@task`,
`wait_time` and TaskSets work as usual. What differs is its client (`synthgate.loadgen.client.FastClient`:
raw gevent socket, httptools parser, HDR recording) and its loop, which runs tasks back to back without
Locust's per-task scheduling overhead, and in open-model mode paces them by the arrival schedule.
"""

from __future__ import annotations

import logging
import random
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from inspect import isclass
from typing import Any

import gevent
import httpx
from gevent import GreenletExit
from locust import User
from locust.exception import RescheduleTask, RescheduleTaskImmediately, StopTest, StopUser
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_STOPPING, LOCUST_STATE_WAITING, TaskSet

from synthgate import run_context, version_pin
from synthgate.checks import seen
from synthgate.loadgen import client as client_module
from synthgate.loadgen import plugin
from synthgate.loadgen.client import FastClient, PreparedRequest, perf_counter
from synthgate.loadgen.plan import PlannedRequest, build_plan, host_from_env, profile_from_env
from synthgate.stage_options import PinOption

log = logging.getLogger("synthgate.load")
YIELD_EVERY = 64  # iterations between forced yields when every response was already buffered


class FastUser(User):
    """A Locust User on synthgate's raw-socket HTTP/1.1 client, recording every sample in HDR."""

    abstract = True
    connect_timeout: float = 5.0
    network_timeout: float = 10.0  # read timeout per request (--request-timeout overrides)
    max_redirects: int = 5
    verify_tls: bool = True  # --insecure-tls turns it off
    default_headers: dict[str, str] = {}

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        if self.host is None:
            raise StopTest("no base URL: set --host (or SYNTHGATE_BASE_URL, or the profile's base_url)")
        self.sg = plugin.state_for(environment)
        timeout = float(self.sg.option("request_timeout", 0.0) or 0.0) or self.network_timeout
        self.client = FastClient(
            self.host,
            self.sg.recorder,
            headers=self.default_headers,
            connect_timeout=self.connect_timeout,
            read_timeout=timeout,
            max_redirects=self.max_redirects,
            verify_tls=self.verify_tls and not self.sg.option("insecure_tls", False),
        )
        raw_pin = self.sg.option("sg_pin", "")
        pin = version_pin.VersionPin.from_option(PinOption.model_validate_json(raw_pin)) if raw_pin else None
        if pin is not None and pin.verifiable:
            self.client.judge = version_judge(pin)
        if seen.ledger() is not None:  # a gate's run: hygiene judges the load's answers too (checks/hygiene_late.py)
            self.client.witness = seen_witness(f"{self.client.origin.scheme}://{self.client.origin.host_header}")

    def run(self) -> None:  # type: ignore[override]  # the point: Locust's loop costs more than a request
        """Run tasks until stopped: back to back (closed model) or on the arrival schedule (open model)."""
        self._state = LOCUST_STATE_RUNNING
        try:
            try:
                self.on_start()
            except Exception as exc:
                log.error("%s\n%s", exc, traceback.format_exc())
                if not isinstance(exc, (StopUser, StopTest)):
                    self.environment.events.user_error.fire(user_instance=self, exception=exc, tb=exc.__traceback__)
                raise
            self._loop()
        except (GreenletExit, StopUser, StopTest):
            try:
                self.on_stop()
            finally:
                self.client.close()

    def _loop(self) -> None:
        tasks = self.tasks
        if not tasks:
            raise StopTest(f"No tasks defined on {type(self).__name__}: use @task or set 'tasks'")
        schedule = self.sg.schedule
        budget = self.sg.budget
        client = self.client
        choice = random.choice
        spins = 0
        while True:
            if self._state == LOCUST_STATE_STOPPING:
                raise StopUser()
            if budget is not None and not budget.take():
                raise StopUser()
            if schedule is not None:
                intended = schedule.next_ticket()
                delay = intended - perf_counter()
                if delay > 0:
                    # a free user waiting for its slot: timer slack is not the server's doing, so the
                    # latency counts from the actual send
                    self._sleep(delay)
                else:
                    # every user was busy when this request was due: count the wait as latency
                    client.intended = intended
            try:
                self._execute(choice(tasks))
            except (StopUser, StopTest, GreenletExit):
                raise
            except (RescheduleTask, RescheduleTaskImmediately):
                pass
            except Exception as exc:
                self.environment.events.user_error.fire(user_instance=self, exception=exc, tb=exc.__traceback__)
                if not self.environment.catch_exceptions:
                    raise
                log.error("%s\n%s", exc, traceback.format_exc())
                self._sleep(0.1)
            if schedule is None:
                wait = self.wait_time()
                if wait > 0:
                    self._sleep(wait)
                else:
                    spins += 1
                    if spins >= YIELD_EVERY:
                        # a response already in the socket buffer does not yield: let other greenlets run
                        spins = 0
                        gevent.sleep(0)

    def _execute(self, task: Any) -> None:
        if isclass(task) and issubclass(task, TaskSet):
            task(self).run()
        else:
            task(self)

    def _sleep(self, seconds: float) -> None:
        self._state = LOCUST_STATE_WAITING
        gevent.sleep(seconds)
        if self._state == LOCUST_STATE_STOPPING:
            raise StopUser()
        self._state = LOCUST_STATE_RUNNING


def version_judge(pin: version_pin.VersionPin) -> Callable[[Any], bool]:
    """True for an answer the pinned version served (or one naming no version by its JSON field)."""

    def judge(resp: Any) -> bool:  # client._Response, its body kept
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.headers]
        answer = httpx.Response(resp.status, headers=headers, content=b"".join(resp.body))
        return version_pin.mismatch(answer, pin) is None

    return judge


def seen_witness(origin: str) -> Callable[[PreparedRequest, Any, bool], None]:
    """Record a request's answer in the run's seen-answers ledger (cookies and caching headers, for hygiene)."""

    def witness(req: PreparedRequest, resp: Any, cookies_sent: bool) -> None:  # resp: client._Response, headers kept
        sent = [(line.partition(b":")[0].decode("latin-1"), "") for line in req.head.split(b"\r\n")[1:] if b":" in line]
        if cookies_sent:
            sent.append(("cookie", ""))
        got = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.headers]
        seen.record(seen.entry(req.method, origin + req.target, resp.status, sent, got, by=f"load task {req.name}"))

    return witness


def make_task(planned: PlannedRequest) -> Callable[[User], None]:
    """A Locust task sending one planned request: through FastClient, or through FastHttpUser's client."""

    def prepare(client: FastClient) -> PreparedRequest:
        return client.prepare(
            planned.method,
            planned.path,
            name=planned.name,
            headers=planned.headers,
            body=planned.body,
            expect_status=planned.expect_status,
        )

    key = object()  # each user's client caches its prepared bytes under this key

    def task(user: User) -> None:
        client = user.client  # type: ignore[attr-defined]
        if isinstance(client, FastClient):
            client.send(client.prepared(key, prepare))  # type: ignore[arg-type]
            return
        # Locust's FastHttpUser (or HttpUser): success is decided by the same expected statuses
        with client.request(
            planned.method,
            planned.path,
            name=planned.name,
            data=planned.body,
            headers=planned.headers,
            catch_response=True,
        ) as resp:
            if getattr(resp, "error", None) is not None and not resp.status_code:
                return  # a connection error: already a failure
            if resp.status_code in planned.expect_status:
                resp.success()
            else:
                resp.failure(f"HTTP {resp.status_code}")

    task.__name__ = f"request {planned.name}"
    task.__qualname__ = task.__name__
    return task


@dataclass
class ProfileSetup:
    """What a locustfile needs from the profile: weighted tasks, base URL, read timeout."""

    tasks: dict[Callable[[User], None], int]
    host: str | None
    timeout_s: float
    profile_name: str
    user_class: str  # "fast" or "fasthttp": the profile's load.user_class (the run context's overrides)


def profile_setup(allow_writes: bool | None = None) -> ProfileSetup:
    """Tasks, host and timeout from the profile in $SYNTHGATE_PROFILE (default: the bundled demo)."""
    profile, path = profile_from_env()
    client_module.MAX_RESPONSE_BYTES = profile.defaults.max_body_bytes  # every user's reads bounded alike
    # a master of remote workers never sends: it needs no secrets (only the workers resolve them)
    plan = build_plan(profile, allow_writes, resolve="--master" not in sys.argv or "--expect-workers" not in sys.argv)
    if plan.skipped_writes:
        log.warning(
            "synthgate: skipping write tasks (%s): set load.allow_writes in %s to send them",
            ", ".join(plan.skipped_writes),
            path,
        )
    if not plan.requests:
        why = "declares no load tasks" if plan.config is None else "has only write tasks and allow_writes is off"
        raise SystemExit(f"synthgate: profile {path} {why} (add a 'load:' section with tasks)")
    return ProfileSetup(
        tasks={make_task(p): p.weight for p in plan.requests},
        host=host_from_env(profile),
        timeout_s=plan.timeout_s,
        profile_name=profile.name,
        user_class=run_context.current().load_user_class or (plan.config.user_class if plan.config else "fast"),
    )
