"""One probe process: profile and target, store and lock, scheduler, incidents, alerts, metrics, status page."""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from synthgate import auth
from synthgate.gate import GateOptions, prepare
from synthgate.probe import status_page
from synthgate.probe.alerts import (
    AlertDispatcher,
    alert_document,
    build_channels,
    human_duration,
    iso,
    safe_url,
)
from synthgate.probe.incidents import Event, IncidentTracker, Policy
from synthgate.probe.jobs import Job, ProbeSetupError, auth_job, e2e_job, smoke_jobs
from synthgate.probe.metrics import ProbeMetrics
from synthgate.probe.report import SLO_WINDOWS
from synthgate.probe.scheduler import Scheduler
from synthgate.probe.user_jobs import user_checks_job
from synthgate.profile import ProfileError
from synthgate.redact import redactor
from synthgate.results import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS
from synthgate.stages import stage_runner
from synthgate.store import ProbeResult, Store, StoreError, resolve_db
from synthgate.target import TargetOpener, opener_for

LOCATION = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
PRUNE_EVERY_S = 3600.0
ALERT_GRACE_S = 10.0  # at exit, how long pending alerts may still take; the rest goes out on the next start


@dataclass
class ProbeOptions:
    """What `synthgate probe` was asked to do."""

    profile: str = "demo"
    base_url: str | None = None
    every: float | None = None
    stages: list[str] | None = None
    db: Path | str | None = None  # a SQLite path or a postgresql:// URL (None: SYNTHGATE_DB, else the default)
    once: bool = False
    metrics_port: int | None = None
    metrics_addr: str = "0.0.0.0"
    location: str = "default"
    reports_dir: Path = Path("reports")
    quiet: bool = False
    alert_grace_s: float = ALERT_GRACE_S
    no_alerts: bool = False  # try a profile without its alert channels (and their secrets)
    extra: dict[str, Any] = field(default_factory=dict)
    open_target: TargetOpener | None = None  # the CLI's opener can start the embedded demo target


class HardStop(BaseException):
    """A second stop signal: leave now (every result already committed is safe)."""


def _out(line: str) -> None:
    print(redactor(line), flush=True)  # flushed: what is printed was committed, even if killed next


def _err(line: str) -> None:
    print(redactor(f"{iso(time.time())} {line}"), file=sys.stderr, flush=True)


@contextlib.contextmanager
def probe_lock(store: Store, profile: str, location: str) -> Iterator[None]:
    """One probe process per (database, profile, location): two would count every streak twice.

    A file lock beside a SQLite file, an advisory lock on PostgreSQL (then across machines); either is released
    when the process dies, kill -9 included.
    """
    name = f"{profile}@{location}"
    with store.exclusive(name, wait_s=0) as got:
        if not got:
            raise ProbeSetupError(f"another synthgate probe ({store.lock_holder(name)}) is already probing "
                                  f"{profile}@{location} with {store.label}")
        yield


def _check_e2e_available() -> None:
    try:
        stage_runner("e2e")
    except (ImportError, AttributeError, ValueError) as exc:
        raise ProbeSetupError(f"--stages e2e: the e2e stage is not available in this installation ({exc}); "
                              "probe with --stages smoke") from None


def run_probe(opts: ProbeOptions) -> int:
    """Run the probe as asked; returns the exit code. ProfileError/ProbeSetupError/StoreError for usage problems."""
    profile, path = prepare(GateOptions(profile=opts.profile, stages=["smoke"]))
    stages = opts.stages or list(profile.probe.stages)
    unknown = [s for s in stages if s not in ("smoke", "e2e")]
    if unknown or not stages:
        raise ProfileError(f"--stages: probes run smoke and/or e2e, got {', '.join(unknown) or '(none)'}")
    if not LOCATION.match(opts.location):
        raise ProfileError(f"--location: expected 1-64 letters, digits or _.:- (e.g. eu-west), got {opts.location!r}")
    every = opts.every if opts.every is not None else profile.probe.every
    if every <= 0:
        raise ProfileError("--every: expected a positive duration such as 30s or 5m")
    if opts.metrics_port is not None and not 0 < opts.metrics_port < 65536:
        raise ProfileError(f"--metrics-port: expected a TCP port (1-65535), got {opts.metrics_port}")
    try:
        channels = [] if opts.no_alerts else build_channels(profile)
    except ProfileError as exc:
        raise ProfileError(f"{exc}; or pass --no-alerts to probe without alerting") from None
    if "e2e" in stages:
        _check_e2e_available()
    store = Store(resolve_db(opts.db))
    probe: _Probe | None = None
    try:
        with probe_lock(store, profile.name, opts.location), \
                (opts.open_target or opener_for(opts.base_url))(profile, path) as target:
            jobs: list[Job] = []
            if profile.auth is not None:  # log in before the first round, then again every round
                jobs.append(auth_job(profile, target.base_url, every, opts.reports_dir / ".work"))
            if "smoke" in stages:
                jobs += smoke_jobs(profile, target.base_url, every)
                mine = user_checks_job(profile, path, target.base_url, every, opts.reports_dir)  # tests/smoke/
                jobs += [mine] if mine else []
            if "e2e" in stages:
                jobs.append(e2e_job(profile, path, target.base_url, every, opts.reports_dir, _err))
            if not jobs:
                raise ProbeSetupError(f"{path}: nothing to probe: the profile declares no smoke check")
            probe = _Probe(opts, profile, store, target.base_url, jobs, channels, stages, every)
            code = probe.run()
    finally:
        store.close()
        auth.end()  # the session file does not outlive the probe
    if probe is not None and probe.hard_stopped:
        # worker threads may still wait on a slow target; the interpreter would join them at exit
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


class _Probe:
    """The running probe: wires the scheduler's results into the store, incidents, alerts, metrics and output."""

    def __init__(self, opts: ProbeOptions, profile: Any, store: Store, base_url: str, jobs: list[Job],
                 channels: list[Any], stages: list[str], every: float) -> None:
        self.opts = opts
        self.profile = profile
        self.store = store
        self.base_url = base_url
        self.jobs = jobs
        self.channels = channels
        self.name = profile.name
        self.location = opts.location
        cfg = profile.probe
        self.policy = Policy(cfg.fail_after, cfg.recover_after, cfg.remind_every, cfg.quorum)
        timeout_s = profile.defaults.timeout_s * (profile.defaults.retries + 1)
        # another location's "down" agrees with this one's when it is at most one of its rounds old (a round may
        # start late by the jitter and take up to the check's timeout)
        windows = {j.id: j.interval * (1 + cfg.jitter) + timeout_s for j in jobs}
        self.tracker = IncidentTracker(store, self.name, self.location, self.policy, windows,
                                       every * (1 + cfg.jitter) + timeout_s)
        self.metrics = ProbeMetrics(self.name, self.location)
        self.dispatcher = AlertDispatcher(store, self.name, self.location, channels, log=_err,
                                          on_delivery=lambda ch, ev, oc: self.metrics.delivery(ch.key, ev, oc))
        # the page is rebuilt at most once per shortest interval (and per minute at most), off the main thread
        self.page = PageWriter(store.path, self.name, self.location, opts.reports_dir / "status.html",
                               min(60.0, max(1.0, min(j.interval for j in jobs))))
        self.last_prune = 0.0
        self.last_rollup_hour = -1
        self.signal: int | None = None
        self.signals = 0
        self.hard_stopped = False
        self.config = {
            "checks": [j.id for j in jobs if j.stage == "smoke"], "intervals": {j.id: j.interval for j in jobs},
            "every": every, "stages": stages, "fail_after": cfg.fail_after, "recover_after": cfg.recover_after,
            "remind_every": cfg.remind_every, "concurrency": cfg.concurrency, "jitter": cfg.jitter,
            "timeout_s": profile.defaults.timeout_s * (profile.defaults.retries + 1),
            "channels": [c.label for c in channels],
        }
        self.scheduler = Scheduler(jobs, cfg.concurrency, cfg.jitter, self.on_result, self.after_results, log=_err)

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def run(self) -> int:
        """Probe until stopped (or one round with --once); returns the exit code."""
        if self.opts.metrics_port is not None:
            try:
                self.metrics.serve(self.opts.metrics_port, self.opts.metrics_addr)
            except OSError as exc:
                raise ProbeSetupError(f"--metrics-port {self.opts.metrics_port}: cannot listen on "
                                      f"{self.opts.metrics_addr}: {exc}") from None
        self.store.register_probe(self.name, self.location, safe_url(self.base_url), self.profile.probe.slo,
                                  self.config)
        keep = {j.id for j in self.jobs if j.stage == "smoke"}
        e2e = any(j.stage == "e2e" for j in self.jobs)
        current = [c for c in self.tracker.states if c in keep or (e2e and c.startswith("e2e:"))]
        events = self.tracker.forget(current, time.time(), self.outbox)
        self._announce(events)
        self.metrics.restore(self.tracker.states, self.tracker.incident is not None)
        self._prune()
        self.page.start()
        if not self.opts.no_alerts:  # --no-alerts leaves the outbox alone for the next probe with alerts
            self.dispatcher.start()
            self.dispatcher.notify()
        restore = self._install_signals()
        resumed = self.tracker.incident
        mode = "one round" if self.opts.once else "until stopped"
        _out(f"synthgate probe: {self.name} at {safe_url(self.base_url)} ({self.location}), {len(self.jobs)} job(s), "
             f"{mode}; history {self.store.label}"
             + (f"; quorum {self.policy.quorum} locations" if self.policy.quorum > 1 else "")
             + (f"; open incident #{resumed.id} since {iso(resumed.started_at)}" if resumed else ""))
        try:
            if self.opts.once:
                results = self.scheduler.run_once()
                code = exit_code(results)
            else:
                self.scheduler.run_forever()
                code = 130 if self.signal == signal.SIGINT else 0
        except HardStop:
            _err("probe: stopped at once (second signal); committed results are kept")
            code = 128 + (self.signal or signal.SIGTERM)
            self.hard_stopped = True
            restore()
            return code
        restore()
        self.page.close()
        pending = self.dispatcher.close(self.opts.alert_grace_s)
        if pending:
            _err(f"probe: {pending} alert(s) still pending; they are delivered when the probe starts again")
        _out(f"synthgate probe: stopped after {self.scheduler.rounds} check run(s)"
             + (f"; exit {code}" if self.opts.once else ""))
        return code

    def _install_signals(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def handler(signum: int, _frame: FrameType | None) -> None:
            self.signals += 1
            self.signal = signum
            if self.signals > 1:
                raise HardStop()
            self.scheduler.stop()
            _err(f"probe: {signal.Signals(signum).name}: stopping after the checks in flight (again: stop at once)")

        previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}

        def restore() -> None:
            for s, h in previous.items():
                signal.signal(s, h)

        return restore

    # -- per result ----------------------------------------------------------------------------------------------

    def outbox(self, event: Event) -> list[tuple[str, str, dict[str, Any]]]:
        """The outbox rows of an event: one per channel."""
        doc = alert_document(event, self.name, self.location, self.base_url)
        return [(event.kind, c.key, doc) for c in self.channels]

    def on_result(self, result: ProbeResult) -> None:
        """Store a result (with its incident changes and alerts), then account for it and print it."""
        try:
            rid, events = self.tracker.record(result, self.outbox)
        except (sqlite3.Error, StoreError) as exc:  # disk full, locked too long, server away: keep probing
            _err(f"probe: cannot store the result of {result.check_id}: {exc}")
            rid, events = 0, []
        state = self.tracker.states.get(result.check_id)
        if state is not None:
            self.metrics.observe(result, state)
        if not self.opts.quiet or result.outcome != "up":
            lat = "-" if result.latency_ms is None else f"{result.latency_ms:.1f} ms"
            tries = f" ({result.attempts} attempts)" if result.attempts > 1 else ""
            shown = "ACCEPTED" if result.kind == "accepted" else result.outcome.upper()  # an accepted defect: up
            msg = "" if result.outcome == "up" and shown != "ACCEPTED" else f"  {result.message}"
            _out(f"{iso(result.ts)} #{rid} {result.check_id} {shown} {lat}{tries}{msg}")
        self._announce(events)

    def _announce(self, events: list[Event]) -> None:
        for e in events:
            inc = e.incident
            if e.kind == "down":
                _out(f"INCIDENT #{inc.id} opened: {self.name} down since {iso(inc.started_at)}: {inc.message}")
            elif e.kind == "recovered":
                _out(f"INCIDENT #{inc.id} resolved: {human_duration(inc.downtime_s or 0.0)} of downtime "
                     f"({', '.join(inc.checks)})")
            else:
                _out(f"INCIDENT #{inc.id} still open (reminder {inc.reminders})")
        if events:
            self.metrics.set_incident(self.tracker.incident is not None)
            self.dispatcher.notify()

    def after_results(self) -> None:
        """After a batch of results: a fresh status page; each new hour, its rollups; hourly, retention."""
        self.page.request()
        hour = int(time.time() // 3600)
        if hour != self.last_rollup_hour:
            self._roll_up(hour)
        if time.monotonic() - self.last_prune > PRUNE_EVERY_S:
            self._prune()

    def _roll_up(self, hour: int) -> None:
        """Roll up the hours completed since the last time (idempotent: another probe may do the same)."""
        try:
            self.store.roll_up(self.name, self.location)
            now = time.time()
            for window, span in SLO_WINDOWS:  # Prometheus' long-window uptime, read from the rollups
                self.metrics.set_uptime(window, self.store.outcome_counts(self.name, self.location, now - span))
        except (sqlite3.Error, StoreError) as exc:
            _err(f"probe: cannot roll up results: {exc}")
            return
        self.last_rollup_hour = hour

    def _prune(self) -> None:
        self.last_prune = time.monotonic()
        try:
            n = self.store.prune(time.time() - self.profile.probe.retention)
        except (sqlite3.Error, StoreError) as exc:
            _err(f"probe: cannot prune old results: {exc}")
            return
        if n:
            _err(f"probe: deleted {n} result(s) older than {human_duration(self.profile.probe.retention)}")


class PageWriter:
    """Writes the status page in its own thread with its own connection, so the scheduler never waits for it."""

    def __init__(self, db: Path | str, profile: str, location: str, path: Path, min_gap_s: float) -> None:
        self.db = db
        self.profile = profile
        self.location = location
        self.path = path
        self.min_gap_s = min_gap_s
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="status page", daemon=True)
        self._last = -math.inf

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def request(self) -> None:
        """New results: write the page when the minimum gap allows."""
        self._wanted.set()

    def close(self) -> None:
        """Stop the thread and write the page one last time."""
        self._stop.set()
        self._wanted.set()
        self._thread.join(timeout=30)
        self.write()

    def _work(self) -> None:
        while not self._stop.is_set():
            self._wanted.wait()
            if self._stop.is_set():
                return
            wait = self._last + self.min_gap_s - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                return
            self._wanted.clear()
            self._last = time.monotonic()
            self.write()

    def write(self) -> None:
        """Write the page now (errors are logged, never raised: the page must not stop probing)."""
        try:
            with Store(self.db) as store:
                status_page.write(store, self.profile, self.location, self.path)
        except (OSError, sqlite3.Error, StoreError) as exc:
            _err(f"probe: cannot write {self.path}: {exc}")


def exit_code(results: list[ProbeResult]) -> int:
    """The gate's exit codes for one round: 1 on any failure with evidence, 4 if only unknown ones, else 0."""
    if any(r.outcome == "down" for r in results):
        return EXIT_FAIL
    if any(r.outcome == "unknown" for r in results) or not results:
        return EXIT_INCONCLUSIVE
    return EXIT_PASS
