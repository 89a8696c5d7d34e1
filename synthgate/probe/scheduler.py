"""The scheduler: each job on its own interval, bounded parallelism, never a job overlapping itself, jitter.

A run that outlasts its job's `deadline_s` is reported at once as timed out (no data: nothing says the target
answered), so a round always ends in bounded time; the run's own late result is dropped when it comes, and the
job does not start again before it has (every read is bounded, so it does).

Checks are synchronous httpx code, so they run in a thread pool (measured in benchmarks/RESULTS-probe.md); the
main thread only dispatches, and handles every result itself (store, incidents, metrics, output), so the store
has one writer and the results of one job arrive in order.
"""

from __future__ import annotations

import math
import queue
import random
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from synthgate.probe.jobs import Job
from synthgate.redact import redactor
from synthgate.results import TOOL_ERROR
from synthgate.store import ProbeResult

LATE_NOTE_EVERY_S = 60.0
MAX_WAIT_S = 0.25  # how long the loop sleeps at most: bounds how fast it notices a stop request


@dataclass
class _Slot:
    """A job's place in the schedule (monotonic times)."""

    job: Job
    anchor: float  # start of the current period: anchor + k * interval, never drifting
    due: float  # when the job fires in this period: anchor + jitter offset


class Scheduler:
    """Runs jobs in a thread pool on their intervals; results are handed to `on_result` in the calling thread."""

    def __init__(self, jobs: list[Job], concurrency: int, jitter: float, on_result: Callable[[ProbeResult], None],
                 after_results: Callable[[], None] | None = None, log: Callable[[str], None] = print,
                 rng: random.Random | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if not jobs:
            raise ValueError("nothing to probe: the profile declares no check")
        self.jobs = jobs
        self.concurrency = max(1, concurrency)
        self.jitter = jitter
        self.on_result = on_result
        self.after_results = after_results  # called after each batch of results (the caller throttles)
        self.log = log
        self.rng = rng or random.Random()
        self.clock = clock
        self.stopping = False
        self.rounds = 0  # completed job runs
        self.late = 0  # runs that started a period late since the last note
        self._late_noted = -math.inf

    def stop(self) -> None:
        """Ask the scheduler to stop after the runs in flight (safe from a signal handler)."""
        self.stopping = True

    def _offset(self, job: Job) -> float:
        return self.rng.uniform(0.0, self.jitter * job.interval) if self.jitter > 0 else 0.0

    def run_once(self) -> list[ProbeResult]:
        """Run every job once (bounded parallelism, no jitter) and return all results."""
        out: list[ProbeResult] = []

        def collect(result: ProbeResult) -> None:
            out.append(result)
            self.on_result(result)

        self._loop(once=True, on_result=collect)
        return out

    def run_forever(self) -> None:
        """Run until stop() is called; then finish the runs in flight and return."""
        self._loop(once=False, on_result=self.on_result)

    def _loop(self, once: bool, on_result: Callable[[ProbeResult], None]) -> None:
        start = self.clock()
        slots = {j.id: _Slot(j, start, start if once else start + self._offset(j)) for j in self.jobs}
        done: queue.Queue[tuple[Job, Future[list[ProbeResult]]]] = queue.Queue()
        running: dict[str, Future[list[ProbeResult]]] = {}
        started: dict[str, float] = {}
        timed_out: set[str] = set()  # reported as timed out, still running
        finished: set[str] = set()
        fresh = False  # results handled since the last after_results call
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="probe")
        try:
            while True:
                now = self.clock()
                if not self.stopping:
                    for slot in sorted(slots.values(), key=lambda s: s.due):
                        jid = slot.job.id
                        if jid in running or slot.due > now or (once and jid in finished):
                            continue
                        fut = pool.submit(slot.job.run)
                        running[jid] = fut
                        started[jid] = now
                        fut.add_done_callback(lambda f, job=slot.job: done.put((job, f)))
                for jid in [j for j in running if j not in timed_out]:
                    job = slots[jid].job
                    if job.deadline_s is not None and now - started[jid] > job.deadline_s:
                        timed_out.add(jid)
                        finished.add(jid)
                        on_result(self._timed_out(job, now - started[jid]))
                        fresh = True
                live = [j for j in running if j not in timed_out]
                if not live and (self.stopping or (once and len(finished) == len(slots))):
                    break
                waiting = (s for s in slots.values() if s.job.id not in running)
                idle = [s.due for s in waiting if not (once and s.job.id in finished)]
                wait = min(MAX_WAIT_S, max(0.0, min(idle, default=now + MAX_WAIT_S) - now))
                try:
                    item: tuple[Job, Future[list[ProbeResult]]] | None = done.get(timeout=wait)
                except queue.Empty:
                    item = None
                while item is not None:
                    job, fut = item
                    del running[job.id]
                    finished.add(job.id)
                    if job.id in timed_out:
                        timed_out.discard(job.id)  # reported already; its late answer is not a result
                    else:
                        for result in self._results(job, fut):
                            on_result(result)
                    self.rounds += 1
                    fresh = True
                    self._reschedule(slots[job.id], self.clock())
                    try:
                        item = done.get_nowait()
                    except queue.Empty:
                        item = None
                if fresh and self.after_results is not None:
                    fresh = False
                    self.after_results()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # a hard stop does not wait for the checks in flight
            raise
        # runs reported as timed out are not waited for (their reads are bounded: they end on their own)
        pool.shutdown(wait=not timed_out, cancel_futures=True)

    def _timed_out(self, job: Job, seconds: float) -> ProbeResult:
        return ProbeResult(check_id=job.id, stage=job.stage, ts=time.time(), duration_ms=round(seconds * 1000, 1),
                           status="failed", outcome="unknown", kind="no-data",
                           message=f"timed out: the run took over {job.deadline_s:g} s (its deadline: every "
                                   "attempt at the whole-response timeout); no data from this round")

    def _results(self, job: Job, fut: Future[list[ProbeResult]]) -> list[ProbeResult]:
        try:
            return fut.result()
        except Exception as exc:  # noqa: BLE001 - jobs catch their own errors; this is the last guard
            return [ProbeResult(check_id=job.id, stage=job.stage, ts=time.time(), duration_ms=0.0, status="failed",
                                outcome="unknown", kind=TOOL_ERROR,  # synthgate's own crash: not the target down
                                message=redactor(f"probe job crashed: {exc.__class__.__name__}: {exc}"))]

    def _reschedule(self, slot: _Slot, now: float) -> None:
        """Next period; a run that took longer than its interval starts the next one now, never a burst."""
        slot.anchor += slot.job.interval
        if slot.anchor + slot.job.interval * self.jitter < now:
            slot.anchor = now
            self.late += 1
            if now - self._late_noted >= LATE_NOTE_EVERY_S:  # one line a minute at most, never one per check
                self.log(f"probe: {self.late} run(s) late (e.g. {slot.job.id}): checks take longer than their "
                         f"interval or wait for one of the {self.concurrency} workers (probe.concurrency); they run "
                         "back to back, never overlapping or piling up")
                self._late_noted = now
                self.late = 0
        slot.due = slot.anchor + self._offset(slot.job)
