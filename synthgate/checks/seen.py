"""What the run saw that deploy hygiene judges: the Set-Cookie and caching headers of the target's answers to any
check, journey, fuzz request or load task, with where each came from, in a run-wide ledger beside the cold-start ledger.

A cookie set only by a successful POST, or a per-session answer cached publicly, is never among the hygiene
items' own fetches; the ledger lets `hygiene:cookie-*` and `hygiene:cache-private` judge it anyway. Only what
hygiene needs is kept (cookie names and attributes, never their values), one line per distinct answer shape.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from synthgate import http, run_context, run_state
from synthgate.appended import json_objects
from synthgate.checks import cold
from synthgate.redact import redactor

MAX_LINES = 2000  # a fuzz stage walking random paths must not grow the ledger without end
_CACHE_HEADERS = ("cache-control", "expires", "vary", "pragma")


@dataclass
class SeenMemory:
    """What a run wrote to its ledgers, and what is sending now."""

    written: dict[str, set[str]] = field(default_factory=dict)  # ledger path -> answer shapes this run wrote
    source: list[str] = field(default_factory=list)  # what is sending now (a check id), innermost last
    unwritable: set[str] = field(default_factory=set)  # ledgers a write failed on (disk full, folder gone)
    lock: threading.Lock = field(default_factory=threading.Lock)


MEMORY = run_state.Slot("seen ledger", SeenMemory)


def memory() -> SeenMemory:
    """The current run's memory of its seen ledgers (synthgate.run_state)."""
    return run_state.current().get(MEMORY)


def begin(reports_dir: Path, base_url: str) -> Path:
    """Open the gate run's ledger (reports/.work/seen.jsonl, emptied) for every stage process of the run.

    It outlives the smoke stage (the cold-start ledger does not): the journeys', fuzz's and load's answers are
    recorded too, and judged after the last stage (synthgate/checks/hygiene_late.py)."""
    folder = Path(reports_dir).resolve() / ".work"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "seen.jsonl"
    path.write_text("", encoding="utf-8")
    mem = memory()
    with mem.lock:
        mem.written.pop(str(path), None)
    run_context.update(seen_ledger=str(path), seen_origin=_origin(base_url))
    return path


def close() -> None:
    """Stop recording into the gate run's ledger (before a rollback's re-verification, which starts afresh)."""
    if run_context.current().seen_ledger is not None:
        run_context.update(seen_ledger=None, seen_origin=None)


def ledger() -> Path | None:
    """This run's ledger: the gate's (`begin`), else one beside the cold-start ledger (a smoke suite run alone, a
    rollback's re-verification); None when no run is open, or it recorded nothing yet.

    Beside the cold-start ledger, a run is named by that ledger's first line (the run's first request, stamped): a
    reports folder used again, or another run in the same process, starts a ledger of its own."""
    opened = run_context.current().seen_ledger
    if opened:
        return Path(opened)
    path = cold.active()
    if path is None:
        return None
    try:
        with open(path, "rb") as first:
            head = first.readline()
    except OSError:
        return None
    if not head.endswith(b"\n"):
        return None
    run = hashlib.sha256(head).hexdigest()[:12]
    return path.with_name(f"{path.stem.replace('cold', 'seen', 1)}-{run}.jsonl")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _on_target(url: str) -> bool:
    origin = run_context.current().seen_origin
    if origin:
        return _origin(url) == origin
    return cold.is_target(url)


@contextlib.contextmanager
def source(name: str) -> Iterator[None]:
    """Name what sends the requests made inside the block (e.g. `check one-free-generation-per-session`)."""
    stack = memory().source
    stack.append(name)
    try:
        yield
    finally:
        stack.pop()


def _who() -> str:
    stack = memory().source
    if stack:
        return stack[-1]
    return cold.who()


def _cookie_shape(set_cookie: str) -> str:
    """A Set-Cookie value without its value: `name=(value); Path=/; HttpOnly` (the value may be a secret)."""
    first, _, rest = set_cookie.partition(";")
    name = first.split("=", 1)[0].strip()
    return f"{name}=(value)" + (f";{rest}" if rest else "")


def entry(method: str, url: str, status: int | None, request_headers: Iterable[tuple[str, str]],
          response_headers: Iterable[tuple[str, str]], by: str | None = None) -> dict[str, Any] | None:
    """One ledger line for an answer, or None when hygiene has nothing to judge on it."""
    sent = {k.lower() for k, _ in request_headers}
    got: dict[str, list[str]] = {}
    for name, value in response_headers:
        for part in (value.split("\n") if name.lower() == "set-cookie" else [value]):
            got.setdefault(name.lower(), []).append(part)
    credentialed = "cookie" in sent or "authorization" in sent
    cookies = [_cookie_shape(c) for c in got.get("set-cookie", []) if c.strip()]
    if not cookies and not credentialed:
        return None
    parts = urlsplit(url)
    return {
        "method": method,
        "path": redactor(parts.path or "/"),
        "status": status,
        "https": parts.scheme == "https",
        "credentialed": credentialed,
        "set_cookie": cookies,
        **{h: ", ".join(got[h]) for h in _CACHE_HEADERS if h in got},
        "by": by or _who(),
    }


def record(item: dict[str, Any] | None) -> None:
    """Append one answer's line to the ledger (once per distinct shape; nothing without an open ledger)."""
    path = ledger()
    if item is None or path is None:
        return
    shape = json.dumps({k: v for k, v in item.items() if k != "by"}, sort_keys=True)
    own = memory()
    with own.lock:
        known = own.written.setdefault(str(path), set())
        if shape in known or len(known) >= MAX_LINES or str(path) in own.unwritable:
            return
        known.add(shape)
        # one short line in append mode: concurrent writers (stage processes) never interleave within it
        try:
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps(item, ensure_ascii=False) + "\n")
        except OSError:
            # hygiene loses this evidence, never the request it came from: a load task's request is counted and
            # a check judges its answer whether or not the ledger could be written
            own.unwritable.add(str(path))


def observe(ex: Any) -> None:
    """Record an http.Exchange's answer when it is the target's (the cold-start ledger's origin)."""
    response = getattr(ex, "response", None)
    if response is None or ledger() is None:
        return
    if not _on_target(ex.url):
        return
    record(entry(ex.method, ex.url, response.status_code, response.request.headers.multi_items(),
                 response.headers.multi_items()))


def read(path: Path | None = None) -> list[dict[str, Any]]:
    """Every line of the ledger (a line cut by a killed process is skipped)."""
    path = path or ledger()
    if path is None:
        return []
    try:
        return list(json_objects(path.read_bytes().splitlines()))
    except OSError:
        return []


def _observe(event: http.Exchanged) -> None:
    observe(event.exchange)


def listen() -> None:
    """Record the answers of every request the current run sends through synthgate.http (idempotent)."""
    http.events().subscribe(http.Exchanged, _observe)
