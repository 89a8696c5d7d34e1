"""HAR 1.2 files of failed checks' exchanges under reports/har/, redacted, linked as the checks' evidence.

HTTP checks: built here from the recorded exchanges (every attempt). Browser journeys: Playwright's own
`record_har_path` of the journey's context, kept only when the journey failed, rewritten without secrets.
A HAR opens in every browser's developer tools (Network > Import) and in most HTTP tools.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from synthgate.e2e.evidence import blank_sensitive, scrub_bytes  # one scrubber for traces and HARs
from synthgate.redact import redactor

HAR_DIR = "har"
MAX_BODY_CHARS = 64 * 1024  # a HAR is evidence to read, not a mirror of the site
MAX_ENTRIES = 100  # a check's HAR: a link crawl's hundreds of requests are not all evidence
CREATOR = {"name": "synthgate", "version": "0.1.0"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def har_dir(reports_dir: Path) -> Path:
    """reports/har, created on demand."""
    folder = Path(reports_dir) / HAR_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def file_name(check_id: str) -> str:
    """A file name for a check id (`cold-start:/v1/health` -> `cold-start_v1_health.har`)."""
    return _UNSAFE.sub("_", check_id).strip("_")[:150] + ".har"


def _pairs(items: Any) -> list[dict[str, str]]:
    return [{"name": str(k), "value": str(v)} for k, v in redactor.headers(list(items))]


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return redactor(text[:MAX_BODY_CHARS])


def entry(ex: Any) -> dict[str, Any]:
    """One HAR entry for an http.Exchange (request, response or the transport error, timings), redacted."""
    url = redactor(ex.url)
    started = datetime.now(UTC) - timedelta(milliseconds=ex.duration_ms)
    headers = dict(ex.headers)
    request: dict[str, Any] = {
        "method": ex.method, "url": url, "httpVersion": "HTTP/1.1", "cookies": [],
        "headers": _pairs(headers.items()),
        "queryString": [{"name": k, "value": redactor(v)} for k, v in parse_qsl(urlsplit(ex.url).query)],
        "headersSize": -1, "bodySize": len(ex.body) if ex.body else 0,
    }
    if ex.body:
        mime = next((v for k, v in headers.items() if k.lower() == "content-type"), "application/octet-stream")
        request["postData"] = {"mimeType": mime, "text": _text(ex.body)}
    r = ex.response
    if r is not None:
        body = r.text
        response: dict[str, Any] = {
            "status": r.status_code, "statusText": r.reason_phrase, "httpVersion": r.http_version,
            "cookies": [], "headers": _pairs(r.headers.items()),
            "content": {"size": len(r.content), "mimeType": r.headers.get("content-type", ""), "text": _text(body)},
            "redirectURL": redactor(r.headers.get("location", "")), "headersSize": -1, "bodySize": len(r.content),
        }
    else:  # HAR has no place for "no answer": status 0 and the error, as browsers export a failed request
        response = {"status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
                    "content": {"size": 0, "mimeType": ""}, "redirectURL": "", "headersSize": -1, "bodySize": -1,
                    "_error": redactor(ex.error or "no response")}
    out: dict[str, Any] = {
        "startedDateTime": started.isoformat(timespec="milliseconds"),
        "time": round(ex.duration_ms, 3),
        "request": request, "response": response, "cache": {},
        "timings": {"send": 0, "wait": round(ex.duration_ms, 3), "receive": 0},
    }
    if ex.cold:
        out["_cold"] = True  # the run's first request to this endpoint
    return out


def document(entries: list[dict[str, Any]], comment: str = "") -> dict[str, Any]:
    """A HAR 1.2 document around entries."""
    log: dict[str, Any] = {"version": "1.2", "creator": CREATOR, "pages": [], "entries": entries}
    if comment:
        log["comment"] = redactor(comment)
    return {"log": log}


def _scrubbed(data: dict[str, Any]) -> bytes:
    """The document as bytes with sensitive headers and cookies blanked and every secret form replaced."""
    text = json.dumps(blank_sensitive(data), ensure_ascii=False, indent=1)
    return scrub_bytes(redactor(text).encode("utf-8"))


def _write_atomic(path: Path, data: bytes) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write(reports_dir: Path, check_id: str, entries: list[dict[str, Any]], comment: str = "") -> str | None:
    """Write reports/har/<check>.har; the path relative to the reports dir (None when there is nothing)."""
    if not entries:
        return None
    path = har_dir(reports_dir) / file_name(check_id)
    _write_atomic(path, _scrubbed(document(entries, comment or f"synthgate: exchanges of the failed check {check_id}")))
    return f"{HAR_DIR}/{path.name}"


def write_exchanges(reports_dir: Path, check_id: str, exchanges: list[Any]) -> str | None:
    """HAR of a failed HTTP check: every exchange of every attempt, in order."""
    return write(reports_dir, check_id, [entry(ex) for ex in exchanges])


class Collector:
    """The HAR writer's listener: every exchange the transport publishes while one check runs (subscribe it to
    `http.Exchanged` for the check, unsubscribe after), written as the check's HAR when it failed."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def __call__(self, event: Any) -> None:
        """Keep one published exchange (an `http.Exchanged` event)."""
        self.seen.append(event.exchange)

    def write(self, reports_dir: Path, check_id: str, named: list[Any]) -> str | None:
        """Write the check's HAR (see `chosen`); `named` are the exchanges the check's attempts kept."""
        return write_exchanges(reports_dir, check_id, chosen(self.seen, named))


def chosen(seen: list[Any], named: list[Any], limit: int = MAX_ENTRIES) -> list[Any]:
    """What a failed check's HAR holds: every exchange published while it ran, plus those its attempts kept but
    did not send now (answers from the run's hygiene cache), in order; past `limit` (a link crawl), the kept
    ones first and then the earliest others."""
    ids = {id(ex) for ex in seen}
    every = seen + [ex for ex in named if id(ex) not in ids]
    if len(every) <= limit:
        return every
    wanted = {id(ex) for ex in named[:limit]}
    room = limit - len(wanted)
    keep: list[Any] = []
    for ex in every:
        if id(ex) in wanted:
            keep.append(ex)
        elif room > 0:
            keep.append(ex)
            room -= 1
    return keep


def browser_context_args(path: Path) -> dict[str, Any]:
    """`new_context` arguments that make Playwright record a HAR of the context at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # embed: bodies are inside the one file (a failed form's 405 answer is the evidence); minimal: no timings noise
    return {"record_har_path": str(path), "record_har_content": "embed", "record_har_mode": "full"}


def keep_browser_har(raw: Path, reports_dir: Path, journey_id: str, keep: bool) -> str | None:
    """After the context closed: a failed journey's HAR rewritten without secrets into reports/har/, else removed."""
    try:
        if not keep or not raw.is_file():
            return None
        data = json.loads(raw.read_text(encoding="utf-8"))
        for item in data.get("log", {}).get("entries", []):
            content = item.get("response", {}).get("content", {})
            text = content.get("text")
            if isinstance(text, str) and len(text) > MAX_BODY_CHARS:
                if content.get("encoding") == "base64":  # half a base64 body is noise: drop it whole
                    content.pop("text")
                    content.pop("encoding")
                    content["comment"] = "binary body left out"
                else:
                    content["text"] = text[:MAX_BODY_CHARS]
                    content["comment"] = f"cut at {MAX_BODY_CHARS} characters"
        target = har_dir(reports_dir) / file_name(journey_id)
        _write_atomic(target, _scrubbed(data))
        return f"{HAR_DIR}/{target.name}"
    except (OSError, ValueError):
        return None  # a HAR is evidence, not a verdict: never fail the journey for it
    finally:
        raw.unlink(missing_ok=True)


def clear_stale(reports_dir: Path) -> None:
    """Remove the previous run's HAR files, so reports/har only shows this run's failures."""
    folder = Path(reports_dir) / HAR_DIR
    if folder.is_dir():
        for item in folder.glob("*.har"):
            item.unlink(missing_ok=True)
