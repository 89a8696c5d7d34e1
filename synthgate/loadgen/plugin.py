"""synthgate inside Locust: options, batched stats, HDR over the master/worker protocol, open model, results.

Imported by the locustfile (through `synthgate.loadgen.user`), so it runs only inside Locust processes.

- Every 0.5 s the process's HDR recorder is flushed and folded into Locust's own `RequestStats` as one
  aggregated entry per request name: the web UI, the CSVs, the HTML report and the distributed stats
  keep working without one Locust event per request.
- A worker adds its HDR histograms (encoded) and reservoir samples to each report it sends the master
  (`report_to_master`); the master merges them (`worker_report`), so percentiles are exact across workers.
- Open model (`--arrival-rate`): one schedule of intended send times per process; a free user takes the
  next one. When every user is busy, tickets wait and their latency counts from the intended time, so a
  stalled server cannot hide the requests queued behind it (coordinated omission).
- `--sg-run-time` / `--sg-result` / `--sg-progress`: used by `synthgate.loadgen.runner` to end the test
  itself (after the workers' final reports arrived), write the result file and print progress lines.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
import weakref
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event
from locust import events
from locust.env import Environment
from locust.exception import CatchResponseError
from locust.runners import LocalRunner, MasterRunner, WorkerRunner
from locust.stats import CSV_STATS_INTERVAL_SEC, RequestStats, StatsEntry, StatsError, bucket_response_time

from synthgate.loadgen.hdr import Interval, Recorder, percentiles_ms

FLUSH_INTERVAL_S = 0.5
PROGRESS_INTERVAL_S = 1.0
PROGRESS_PREFIX = "SYNTHGATE_PROGRESS "
RESULT_VERSION = 1
START_WAIT_S = 3.0  # open model: how long users wait for "spawning complete" before starting the schedule

log = logging.getLogger("synthgate.load")
perf_counter = time.perf_counter


class ArrivalSchedule:
    """Intended send times at a fixed rate, handed out in order to whichever user is free."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.interval = 1.0 / rate
        self.t0: float | None = None
        self.k = 0
        self.started = Event()

    def start(self) -> None:
        """Start the clock (when all users are spawned)."""
        if self.t0 is None:
            self.t0 = perf_counter()
            self.k = 0
        self.started.set()

    def next_ticket(self) -> float:
        """The next intended send time (perf_counter seconds)."""
        if self.t0 is None:
            self.started.wait(START_WAIT_S)
            self.start()
        assert self.t0 is not None
        t = self.t0 + self.k * self.interval
        self.k += 1
        return t


class RequestBudget:
    """A bound on the requests this process sends; `exhausted` is set once it is spent."""

    def __init__(self, limit: int) -> None:
        self.remaining = limit
        self.exhausted = Event()

    def take(self) -> bool:
        """True if one more request may be sent."""
        if self.remaining <= 0:
            self.exhausted.set()
            return False
        self.remaining -= 1
        return True


class LoadState:
    """synthgate's per-process state inside one Locust environment."""

    def __init__(self, environment: Environment) -> None:
        self.env = environment
        runner = environment.runner
        self.role = (
            "worker" if isinstance(runner, WorkerRunner) else "master" if isinstance(runner, MasterRunner) else "local"
        )
        self.recorder = Recorder(keep_pending=self.role == "worker")
        self.schedule: ArrivalSchedule | None = None
        self.budget: RequestBudget | None = None
        self.worker_share = 0  # workers the master split the load over (told at test start)
        self.done = Event()  # the runner's controller stops the test when this is set or time is up
        self.budget_done_workers: set[str] = set()
        self.started_wall: float | None = None
        self.stopped_wall: float | None = None
        self.target_users = 0
        self.workers_seen = 0
        self._flusher: gevent.Greenlet | None = None
        self._controller: gevent.Greenlet | None = None
        self._progress: gevent.Greenlet | None = None
        # more figures for the result file and progress lines (the cluster module adds its own)
        self.result_extras: list[Callable[[], dict[str, Any]]] = []
        self.progress_extras: list[Callable[[], dict[str, Any]]] = []

    # --- options ------------------------------------------------------------------------------------
    def option(self, name: str, default: Any = None) -> Any:
        """A parsed command-line option (custom options reach workers with the spawn message)."""
        opts = self.env.parsed_options
        return getattr(opts, name, default) if opts is not None else default

    def processes(self) -> int:
        """How many generating processes share the load (1, or the number of workers)."""
        if self.role != "worker":
            return 1
        return max(1, self.worker_share or int(self.option("expect_workers", 1) or 1))

    # --- life cycle ---------------------------------------------------------------------------------
    def on_test_start(self) -> None:
        """A new test: fresh recorder, schedule and budget for this process's share."""
        self.recorder.reset()
        self.started_wall = time.time()
        self.stopped_wall = None
        self.done.clear()
        self.budget_done_workers.clear()
        share = self.processes()
        rate = float(self.option("arrival_rate", 0.0) or 0.0)
        self.schedule = ArrivalSchedule(rate / share) if rate > 0 else None
        limit = int(self.option("max_requests", 0) or 0)
        self.budget = RequestBudget(math.ceil(limit / share)) if limit > 0 else None
        if self.budget is not None:
            gevent.spawn(self._watch_budget, self.budget)
        self.ensure_flusher()
        runner = self.env.runner
        if self.role != "worker" and self.option("sg_run_time", 0.0) and self._controller is None:
            self._controller = gevent.spawn(self._control, float(self.option("sg_run_time")))
        if self.role != "worker" and self.option("sg_progress", False) and self._progress is None:
            self._progress = gevent.spawn(self._print_progress)
        if self.role == "master" and isinstance(runner, MasterRunner):
            self.workers_seen = runner.worker_count
            # sent before the spawn messages, so every worker knows its share before its users start
            for client in list(runner.clients.all):
                runner.send_message("synthgate_share", {"workers": runner.worker_count}, client.id)

    def on_spawning_complete(self, user_count: int) -> None:
        """All users are up: the open model's clock starts now."""
        self.target_users = user_count
        if self.schedule is not None:
            self.schedule.start()

    def on_test_stop(self) -> None:
        """Users are stopped: fold the last samples into Locust's stats (and, on a worker, report them)."""
        self.stopped_wall = time.time()
        self.flush()
        if self.role == "worker":
            send = getattr(self.env.runner, "_send_stats", None)
            if send is not None:
                # the final report goes out before Locust tells the master this worker has stopped, so
                # the master's totals are complete when its stop() returns
                send()

    def ensure_flusher(self) -> None:
        """Start the periodic flush (idempotent)."""
        if self._flusher is None or self._flusher.dead:
            self._flusher = gevent.spawn(self._flush_loop)

    def _flush_loop(self) -> None:
        while True:
            gevent.sleep(FLUSH_INTERVAL_S)
            try:
                self.flush()
            except Exception:  # never let a reporting bug stop the load
                log.exception("synthgate: flushing samples failed")

    def flush(self) -> None:
        """Live samples -> totals and Locust's stats."""
        stats = self.env.stats
        for iv in self.recorder.flush():
            if not iv.external:  # samples taken from Locust's request events are in its stats already
                apply_interval(stats, iv)

    def _watch_budget(self, budget: RequestBudget) -> None:
        budget.exhausted.wait()
        runner = self.env.runner
        if self.role == "worker" and runner is not None:
            runner.send_message("synthgate_budget_done", {})
        else:
            self.done.set()

    def on_budget_done(self, worker_id: str) -> None:
        """A worker spent its budget; the test ends once all have."""
        self.budget_done_workers.add(worker_id)
        runner = self.env.runner
        if isinstance(runner, MasterRunner) and len(self.budget_done_workers) >= max(1, runner.worker_count):
            self.done.set()

    def _control(self, run_time: float) -> None:
        """End the test after `run_time` (or when the request budget is spent), workers' data included."""
        self.done.wait(run_time)
        runner = self.env.runner
        if runner is None:
            return
        # on a master, stop() returns once every worker has stopped; their final reports came just before
        runner.stop()
        if self.option("csv_prefix"):
            # Locust rewrites its stats CSV once a second: let it write the final figures before quitting
            gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.2)
        runner.quit()

    def _print_progress(self) -> None:
        while True:
            gevent.sleep(PROGRESS_INTERVAL_S)
            try:
                if self.role == "local":
                    self.flush()
                print(PROGRESS_PREFIX + json.dumps(self.progress()), flush=True)
            except Exception:
                log.exception("synthgate: progress failed")

    def progress(self) -> dict[str, Any]:
        """Figures so far: elapsed, users, requests, failures, rps, P95."""
        tot = self.recorder.overall()
        elapsed = time.time() - (self.started_wall or time.time())
        span = (tot.last_wall - tot.first_wall) if tot.n else 0.0
        runner = self.env.runner
        pct = percentiles_ms(tot.hist, (50, 95, 99))
        out = {
            "elapsed_s": round(elapsed, 1),
            "run_time_s": self.option("sg_run_time", 0.0),
            "users": runner.user_count if runner is not None else 0,
            "requests": tot.n,
            "failures": tot.fails,
            "rps": round(tot.n / span, 1) if span > 0 else 0.0,
            "p50_ms": pct.get("p50"),
            "p95_ms": pct.get("p95"),
            "p99_ms": pct.get("p99"),
        }
        for extra in self.progress_extras:
            out.update(extra())
        return out

    def result(self) -> dict[str, Any]:
        """Everything the gate needs, JSON-safe."""
        data = self.recorder.result()
        rate = float(self.option("arrival_rate", 0.0) or 0.0)
        runner = self.env.runner
        data.update(
            version=RESULT_VERSION,
            mode="open" if rate > 0 else "closed",
            arrival_rate=rate or None,
            users=self.target_users or int(self.option("num_users", 0) or 0),
            workers=self.workers_seen if isinstance(runner, MasterRunner) else 0,
            started=self.started_wall,
            stopped=self.stopped_wall or time.time(),
            max_requests=int(self.option("max_requests", 0) or 0) or None,
            locust={
                "requests": self.env.stats.total.num_requests,
                "failures": self.env.stats.total.num_failures,
            },
        )
        for extra in self.result_extras:
            data.update(extra())
        return data


def apply_interval(stats: RequestStats, iv: Interval) -> None:
    """Fold one flush interval into Locust's stats, as Locust's master folds a worker's report."""
    entry = StatsEntry(stats, iv.name, iv.method)
    entry.num_requests = iv.n
    entry.num_none_requests = iv.none
    entry.num_failures = iv.fails
    entry.total_response_time = iv.sum_us / 1000.0  # type: ignore[assignment]
    if iv.samples:
        entry.min_response_time = iv.min_us / 1000.0  # type: ignore[assignment]
        entry.max_response_time = iv.max_us / 1000.0  # type: ignore[assignment]
    rt: dict[int, int] = defaultdict(int)
    for value, count in iv.counts.items():
        rt[bucket_response_time(value / 1000.0)] += count
    entry.response_times = rt
    entry.num_reqs_per_sec = defaultdict(int, iv.req_per_sec)
    entry.num_fail_per_sec = defaultdict(int, iv.fail_per_sec)
    entry.total_content_length = iv.nbytes
    entry.start_time = iv.first_wall
    entry.last_request_timestamp = iv.last_wall
    stats.entries[(iv.name, iv.method)].extend(entry)
    stats.total.extend(entry)
    for error, count in iv.errors.items():
        key = StatsError.create_key(iv.method, iv.name, error)
        err = stats.errors.get(key)
        if err is None:
            err = stats.errors[key] = StatsError(iv.method, iv.name, error, first_seen=iv.first_wall)
        err.occurrences += count
        err.last_seen = iv.last_wall


_STATES: weakref.WeakKeyDictionary[Environment, LoadState] = weakref.WeakKeyDictionary()


def state_for(environment: Environment) -> LoadState:
    """The synthgate state of an environment (created on first use, e.g. by programmatic Locust use)."""
    state = _STATES.get(environment)
    if state is None:
        state = _STATES[environment] = LoadState(environment)
        state.ensure_flusher()
    return state


def _current(environment: Environment | None = None) -> LoadState | None:
    if environment is not None:
        return state_for(environment)
    return next(iter(_STATES.values()), None)


# --- Locust event hooks (registered once, when the locustfile imports synthgate.loadgen.user) ---------
@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    parser.add_argument("--arrival-rate", type=float, default=0.0, include_in_web_ui=True,
                        help="synthgate open model: target requests per second over all users "
                             "(latency measured from each request's intended send time); 0: closed model")  # fmt: skip
    parser.add_argument("--max-requests", type=int, default=0, include_in_web_ui=True,
                        help="synthgate: stop after this many requests over all workers (0: no bound)")  # fmt: skip
    parser.add_argument("--request-timeout", type=float, default=0.0, include_in_web_ui=False,
                        help="synthgate FastUser: read timeout per request in seconds (0: the profile's)")  # fmt: skip
    parser.add_argument("--insecure-tls", action="store_true", default=False, include_in_web_ui=False,
                        help="synthgate FastUser: do not verify TLS certificates")  # fmt: skip
    parser.add_argument("--sg-run-time", type=float, default=0.0, include_in_web_ui=False,
                        help="synthgate runner: end the test after this many seconds")  # fmt: skip
    parser.add_argument("--sg-result", default="", include_in_web_ui=False,
                        help="synthgate runner: write the HDR result file here")  # fmt: skip
    parser.add_argument("--sg-pin", default="", include_in_web_ui=False,
                        help="synthgate rollout: the version pin as JSON (answers from another version are "
                             "no data)")  # fmt: skip
    parser.add_argument("--sg-progress", action="store_true", default=False, include_in_web_ui=False,
                        help="synthgate runner: print a progress line every second")  # fmt: skip


@events.init.add_listener
def _on_init(environment: Environment, **_kw: Any) -> None:
    # Locust arms its --run-time timer right after this event, before gevent's loop has run since the
    # imports; libev's cached clock still reads the time before them, so the timer would fire early.
    gevent.get_hub().loop.update_now()
    state = state_for(environment)
    runner = environment.runner
    if isinstance(runner, WorkerRunner):

        def on_share(environment: Environment, msg: Any, **_: Any) -> None:
            state.worker_share = int(msg.data.get("workers", 0) or 0)

        runner.register_message("synthgate_share", on_share)
    if isinstance(runner, MasterRunner):

        def on_budget(environment: Environment, msg: Any, **_: Any) -> None:
            state.on_budget_done(str(msg.node_id))

        runner.register_message("synthgate_budget_done", on_budget)
    if isinstance(runner, (LocalRunner, MasterRunner, WorkerRunner)):
        state.ensure_flusher()


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_kw: Any) -> None:
    state_for(environment).on_test_start()


@events.spawning_complete.add_listener
def _on_spawning_complete(user_count: int, **_kw: Any) -> None:
    state = _current()
    if state is not None:
        state.on_spawning_complete(user_count)


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_kw: Any) -> None:
    state_for(environment).on_test_stop()


@events.report_to_master.add_listener
def _on_report_to_master(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    state = _current()
    if state is not None:
        state.flush()
        data["synthgate"] = state.recorder.take_pending()


@events.worker_report.add_listener
def _on_worker_report(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    state = _current()
    if state is not None and data.get("synthgate"):
        state.recorder.add_wire(data["synthgate"])


@events.request.add_listener
def _on_request(
    request_type: str, name: str, response_time: float | None, response_length: int,
    exception: BaseException | None = None, **_kw: Any,
) -> None:  # fmt: skip
    """HDR samples for users on other clients (FastHttpUser); FastUser records without events."""
    state = _current()
    if state is None:
        return
    rec = state.recorder.name(request_type, name, external=True)
    wall = time.time()
    us = None if response_time is None else max(0, int(response_time * 1000))
    if exception is None:
        rec.ok(us or 0, response_length or 0, wall)
    else:
        rec.fail(us, _error_text(exception), response_length or 0, wall)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, CatchResponseError) and exc.args:  # resp.failure("...") from a task: its message
        return str(exc.args[0])
    return StatsError.parse_error(exc)


@events.reset_stats.add_listener
def _on_reset_stats(**_kw: Any) -> None:
    state = _current()
    if state is not None:
        state.recorder.reset()


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_kw: Any) -> None:
    state = state_for(environment)
    if state.role == "worker":
        return
    if state.role == "local":
        state.flush()
    path = state.option("sg_result", "")
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(f"{path}.tmp")
        tmp.write_text(json.dumps(state.result()), encoding="utf-8")
        tmp.replace(path)
    else:
        _print_summary(state)


def _print_summary(state: LoadState) -> None:
    """HDR percentiles after a plain `locust` run (Locust's own table rounds them)."""
    rows = [("Aggregated", state.recorder.overall())] + [
        (f"{m} {n}" if not n.startswith(m) else n, t) for (m, n), t in sorted(state.recorder.totals.items())
    ]
    out = ["", "synthgate HDR latency (ms, exact to 0.1 %):",
           f"{'name':<40} {'reqs':>8} {'fails':>7} {'p50':>9} {'p95':>9} {'p99':>9} {'max':>9}"]  # fmt: skip
    for label, tot in rows:
        pct = percentiles_ms(tot.hist, (50, 95, 99, 100))
        out.append(
            f"{label[:40]:<40} {tot.n:>8} {tot.fails:>7} "
            + " ".join(f"{pct.get(k, float('nan')):>9.2f}" for k in ("p50", "p95", "p99", "p100"))
        )
    sys.stdout.write("\n".join(out) + "\n")
    sys.stdout.flush()
