"""Cold starts: the first request to each endpoint in a run, recorded apart from the warm ones, with its own budget.

A serverless function that was just deployed answers its first request slowly (it starts a runtime, loads
code, opens connections); later requests are warm. Judging that first request by the warm latency budget
fails healthy deploys, and letting the warm checks absorb it hides a start-up that takes seconds. So:

- one *ledger* per gate run (a JSON-lines file named in the run context) holds, per endpoint (the path of a URL
  on the target), the first exchange any process of the run made with it: the gate's preflight and release
  polls in the parent (the true first contact of the health endpoint), then the smoke suite's children;
- `observe` listens to the run's transport events (`listen`, subscribed by the gate and each stage process) and
  marks that first exchange `cold`, so the warm budget never judges it;
- the smoke suite's `cold-start:<path>` checks run first: each makes the first contact with its endpoint when
  nothing did before (a safe request: a GET the profile declares, or a route's minimal invalid request) and
  judges the recorded time against `cold_budget_ms`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from synthgate import http, run_context, run_state
from synthgate.appended import json_objects, lines_since
from synthgate.http import TemplateError, expand, make_client, send
from synthgate.profile.model import Profile, Request
from synthgate.redact import redactor
from synthgate.reports import har

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_ENDPOINTS = 1000  # a stage that walks random paths (fuzz) must not grow the ledger without end



@dataclass
class LedgerMemory:
    """What a run knows of its ledgers: endpoints known recorded, who opened them, who this process is."""

    seen: dict[str, set[str]] = field(default_factory=dict)  # ledger path -> endpoints known to be recorded
    read_up_to: dict[str, int] = field(default_factory=dict)  # ledger path -> bytes of it already read into `seen`
    owner: int | None = None  # the process that opened the ledger: the gate itself
    by: str | None = None  # who this run is, in the ledger's `by` (set by the smoke suite: observed_by)
    lock: threading.Lock = field(default_factory=threading.Lock)


MEMORY = run_state.Slot("cold-start ledger", LedgerMemory)


def memory() -> LedgerMemory:
    """The current run's memory of its ledgers (synthgate.run_state)."""
    return run_state.current().get(MEMORY)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def endpoint_of(url: str) -> str:
    """The endpoint a URL addresses: its path (query and fragment dropped), '/' when empty."""
    return urlsplit(url).path or "/"


def begin(reports_dir: Path, base_url: str, label: str = "") -> Path:
    """Start a fresh ledger for a run (or for the re-verification after a rollback: a new release starts cold)."""
    folder = Path(reports_dir).resolve() / ".work"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (f"cold-{label}.jsonl" if label else "cold.jsonl")
    path.write_text("", encoding="utf-8")
    run_context.update(cold_ledger=str(path), cold_origin=_origin(base_url))  # read by every stage process
    own = memory()
    own.seen.pop(str(path), None)
    own.read_up_to.pop(str(path), None)
    own.owner = os.getpid()
    return path


def active() -> Path | None:
    """The ledger of this run, if one is open."""
    value = run_context.current().cold_ledger
    return Path(value) if value else None


def observed_by(label: str) -> None:
    """Name this process in the ledger's samples (the smoke suite: "the smoke suite")."""
    memory().by = label


def close() -> None:
    """Stop recording: after the smoke stage, first contacts judge nothing (fuzz would add one per random path)."""
    if run_context.current().cold_ledger is not None:
        run_context.update(cold_ledger=None, cold_origin=None)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with memory().lock, open(path.with_name(path.name + ".lock"), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """The ledger: endpoint -> its first sample (the first line for an endpoint wins)."""
    path = path or active()
    out: dict[str, dict[str, Any]] = {}
    if path is None or not path.exists():
        return out
    for sample in _samples(path.read_bytes().splitlines()):
        out.setdefault(sample["endpoint"], sample)
    return out


def _samples(lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """The ledger's samples among its lines (a line cut by a killed process is skipped)."""
    return (sample for sample in json_objects(lines) if isinstance(sample.get("endpoint"), str))


def is_target(url: str) -> bool:
    """Whether `url` is on the run's target (the origin the gate opened the ledger for)."""
    origin = run_context.current().cold_origin
    return bool(origin) and _origin(url) == origin


def observe(ex: http.Exchange, by: str | None = None) -> bool:
    """Record `ex` when it is the run's first request to its endpoint; mark it `cold` then."""
    context = run_context.current()
    if context.cold_ledger is None or _origin(ex.url) != (context.cold_origin or ""):
        return False
    path = Path(context.cold_ledger)
    endpoint = endpoint_of(ex.url)
    known = memory().seen.setdefault(str(path), set())
    if endpoint in known or len(known) >= MAX_ENDPOINTS:
        return False
    with _locked(path):
        known.update(_recorded_since(path))  # what other processes recorded since this one last looked
        if endpoint in known:
            return False
        ex.cold = True
        sample = {
            "endpoint": endpoint,
            "method": ex.method,
            "url": redactor(ex.url),
            "status": ex.status,
            "duration_ms": round(ex.duration_ms, 1),
            "error": redactor(ex.error) if ex.error else None,
            "error_kind": ex.error_kind,
            "by": by or who(),
            "at": time.time(),
            "har_entry": har.entry(ex),  # evidence if this start turns out too slow
        }
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(sample, ensure_ascii=False) + "\n")
        known.add(endpoint)  # this line is read back once by the next look, and skipped as known
    return True


def _recorded_since(path: Path) -> set[str]:
    """The endpoints of the ledger lines appended since this process last read it (under the ledger's lock):
    one read of the new bytes, not the whole ledger per new endpoint (fuzz reaches hundreds)."""
    own = memory()
    lines, own.read_up_to[str(path)] = lines_since(path, own.read_up_to.get(str(path), 0))
    return {sample["endpoint"] for sample in _samples(lines)}


def who() -> str:
    """Who this process is in the run's ledgers: the suite's label, the gate itself, or its pid."""
    own = memory()
    if own.by:
        return own.by
    return "the gate itself, before the stages" if own.owner == os.getpid() else f"process {os.getpid()}"




# ---- the plan: which endpoints the smoke checks touch, how to make first contact, which budget ----


@dataclass
class ColdEndpoint:
    """One endpoint of the profile: its path, its cold budget, and a safe request that wakes it (or None)."""

    path: str
    budget_ms: float
    probe: Request | None = None
    sources: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        """The check id: cold-start:<path>."""
        return f"cold-start:{self.path}"


# which wake-up request wins when several checks touch one endpoint: the lowest rank, the first listed among equals
WAKE_DECLARED, WAKE_ROUTE, WAKE_CORS = range(3)  # a request the profile declares, a route's minimal one, CORS' GET
# the order endpoints are listed (and first contacted) in: the health endpoint, pages, routes, declared checks, CORS
LIST_HEALTH, LIST_PAGE, LIST_ROUTE, LIST_CHECK, LIST_CORS = range(5)


@dataclass(frozen=True)
class ColdSample:
    """An endpoint one check touches: its path, the check, its cold budget (if it names one), a safe request that
    wakes it (or None), that request's rank (WAKE_*) and the sample's place in the listing (LIST_*)."""

    path: str
    source: str
    budget_ms: float | None
    probe: Request | None
    rank: int
    order: int


def endpoints(profile: Profile, samples: list[ColdSample]) -> list[ColdEndpoint]:
    """The endpoints the samples touch, in LIST_* order, each with its wake-up request and budget (the kinds'
    samples are gathered by synthgate.checks.registry.cold_endpoints)."""
    found: dict[str, ColdEndpoint] = {}
    declared: dict[str, list[float]] = {}
    rank: dict[str, int] = {}
    for sample in sorted(samples, key=lambda x: x.order):  # stable: a kind's own order is kept
        if "${saved." in sample.path:
            continue  # known only after an earlier step answered: that step's endpoint is the cold one
        try:
            path = str(expand(sample.path, profile))
        except TemplateError:
            continue
        path = path.split("?")[0] or "/"
        item = found.setdefault(path, ColdEndpoint(path, profile.defaults.cold_budget_ms))
        item.sources.append(sample.source)
        if sample.budget_ms is not None:
            declared.setdefault(path, []).append(sample.budget_ms)
        if sample.probe is not None and sample.rank < rank.get(path, 99):
            item.probe, rank[path] = sample.probe, sample.rank
    for path, budgets in declared.items():
        found[path].budget_ms = max(budgets)  # the entry that names a budget knows its endpoint best
    return list(found.values())


# ---- judging ----


@dataclass
class Judgement:
    """A cold-start check's outcome: status, message, failure kind, and the sample it judged."""

    status: str  # "passed" | "failed" | "skipped"
    message: str
    kind: str | None = None
    sample: dict[str, Any] | None = None


def first_contact(endpoint: ColdEndpoint, profile: Profile, base_url: str) -> None:
    """Send the endpoint's probe when no process of the run has touched it yet (observe() records it)."""
    if endpoint.probe is None or endpoint.path in read():
        return
    try:
        with make_client(profile) as client:
            send(client, base_url, profile, endpoint.probe)
    except TemplateError:
        return  # the check that declares it reports the profile error


def judge(endpoint: ColdEndpoint, sample: dict[str, Any] | None) -> Judgement:
    """The recorded first request of an endpoint against its cold budget."""
    if sample is None:
        return Judgement("skipped", f"no request reached {endpoint.path} in this run (nothing to judge)")
    ms, budget = float(sample["duration_ms"]), endpoint.budget_ms
    who = f"{sample.get('method', 'GET')} by {sample.get('by', 'unknown')}"
    if sample.get("error"):
        kind = "unreachable" if sample.get("error_kind") == "unreachable" else "error"
        return Judgement("failed", f"cold start: the first request to {endpoint.path} ({who}) got no answer "
                         f"after {ms:.0f} ms: {sample['error']}", kind, sample)
    if ms > budget:
        return Judgement("failed", f"cold start: the first request to {endpoint.path} ({who}) took {ms:.0f} ms, "
                         f"over the cold budget of {budget:.0f} ms (warm requests are judged by the latency "
                         "budget)", "assertion", sample)
    return Judgement("passed", f"first request {ms:.0f} ms, within the cold budget of {budget:.0f} ms ({who})",
                     sample=sample)


def check(endpoint: ColdEndpoint, profile: Profile, base_url: str,
          reports_dir: Path) -> tuple[Judgement, dict[str, Any]]:
    """Run one cold-start check: first contact if needed, judge; the result fields (a HAR when it failed)."""
    first_contact(endpoint, profile, base_url)
    result = judge(endpoint, read().get(endpoint.path))
    sample = result.sample or {}
    fields: dict[str, Any] = {
        "id": endpoint.id, "attempts": 1, "flaky": False,
        "duration_ms": float(sample.get("duration_ms", 0.0)),
        "details": {"observed": result.message, "cold_ms": sample.get("duration_ms"),
                    "cold_budget_ms": endpoint.budget_ms, "status": sample.get("status"), "by": sample.get("by"),
                    "method": sample.get("method")},
    }
    if result.status == "failed":
        fields["kind"] = result.kind
        entry = sample.get("har_entry")
        if isinstance(entry, dict):
            saved = har.write(reports_dir, endpoint.id, [entry],
                          comment=f"synthgate: the first request to {endpoint.path} in this run (a cold start)")
            if saved:
                fields["evidence"] = [saved]
    return result, fields


def _observe(event: http.Exchanged) -> None:
    observe(event.exchange)  # the run's first request to an endpoint is a cold-start sample, not a warm one


def listen() -> None:
    """Offer every exchange of the current run to the ledger (idempotent; the gate and each stage process do)."""
    http.events().subscribe(http.Exchanged, _observe)
