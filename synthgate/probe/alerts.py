"""Alert channels (webhook, command) and their delivery from the store's outbox, off the probing path.

An alert is written to the outbox in the same transaction as the result that caused it, then delivered by one
worker thread per channel, in order, with bounded retries and exponential backoff. Delivery never blocks probing:
a slow or dead receiver only holds its own worker, each attempt is bounded by the channel's timeout, and what is
still pending when the probe stops is delivered by the next start (at-least-once).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from synthgate import procs
from synthgate.http import USER_AGENT, classify
from synthgate.probe.incidents import Event
from synthgate.profile import Profile, ProfileError
from synthgate.redact import redactor
from synthgate.store import AlertRow, Store

MAX_AGE_S = 3600.0  # an alert still undelivered after an hour (e.g. found at restart) is stale: expire it
BACKOFF_S = 2.0  # first retry after 2 s, then 4, 8, 16...
TEXT_LIMIT = 1500


class DeliveryError(Exception):
    """One delivery attempt failed; the message is safe to log (redacted)."""


@dataclass
class Channel(ABC):
    """An alert channel: a stable key for the outbox, a label safe to log, and how to deliver."""

    key: str
    label: str
    timeout_s: float
    retries: int

    @abstractmethod
    def deliver(self, document: dict[str, Any]) -> None:
        """Deliver one alert document; raise DeliveryError on failure."""


@dataclass
class WebhookChannel(Channel):
    """POST JSON: Slack-compatible `{"text": ...}` or the whole alert document."""

    url: str = ""
    format: str = "json"

    def deliver(self, document: dict[str, Any]) -> None:
        """POST the alert; a 2xx answer is a delivery."""
        body = {"text": document["text"]} if self.format == "slack" else document
        try:
            with httpx.Client(timeout=httpx.Timeout(self.timeout_s), headers={"User-Agent": USER_AGENT}) as client:
                response = client.post(self.url, json=body)
        except (httpx.HTTPError, OSError) as exc:
            raise DeliveryError(redactor(classify(exc)[1])) from None
        if not 200 <= response.status_code < 300:
            raise DeliveryError(redactor(f"HTTP {response.status_code}: {response.text[:200]}"))


@dataclass
class CommandChannel(Channel):
    """Run an argument list (no shell) with the alert document as JSON on standard input; exit 0 is a delivery."""

    argv: tuple[str, ...] = ()

    def deliver(self, document: dict[str, Any]) -> None:
        """Run the command with a timeout."""
        env = procs.user_env({"SYNTHGATE_ALERT_EVENT": str(document.get("event", "")),
                              "SYNTHGATE_ALERT_TEXT": str(document.get("text", ""))})
        try:
            proc = subprocess.run(list(self.argv), input=json.dumps(document), capture_output=True, text=True,
                                  timeout=self.timeout_s, env=env, check=False)
        except FileNotFoundError:
            raise DeliveryError(f"command not found: {self.argv[0]}") from None
        except subprocess.TimeoutExpired:
            raise DeliveryError(f"command timed out after {self.timeout_s:g} s (killed)") from None
        except OSError as exc:
            raise DeliveryError(redactor(f"cannot run command: {exc}")) from None
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout or "").strip()[-200:]
            raise DeliveryError(redactor(f"command exited {proc.returncode}" + (f": {tail}" if tail else "")))


def build_channels(profile: Profile) -> list[Channel]:
    """The profile's alert channels; ProfileError when a webhook's environment variable is not set."""
    channels: list[Channel] = []
    for n, alert in enumerate(profile.alerts):
        if alert.webhook is not None:
            hook = alert.webhook
            if hook.url_env:
                url = os.environ.get(hook.url_env, "")
                if not url:
                    raise ProfileError(f"alerts[{n}].webhook.url_env: environment variable {hook.url_env} is not set "
                                       "(expected the webhook URL)")
                if not url.startswith(("http://", "https://")):
                    raise ProfileError(f"alerts[{n}].webhook.url_env: {hook.url_env} is not an http(s) URL")
                redactor.add(url, hook.url_env)
                label = f"webhook ${hook.url_env}"
            else:
                url = hook.url or ""
                redactor.add(url, f"alerts[{n}].webhook.url")  # webhook URLs carry their token in the path
                label = f"webhook {urlsplit(url).hostname}"
            channels.append(WebhookChannel(key=f"alerts[{n}].webhook", label=label, timeout_s=hook.timeout_s,
                                           retries=hook.retries, url=url, format=hook.format))
        elif alert.command is not None:
            cmd = alert.command
            label = f"command {os.path.basename(cmd.command[0])}"
            channels.append(CommandChannel(key=f"alerts[{n}].command", label=label,
                                           timeout_s=cmd.timeout_s, retries=cmd.retries, argv=tuple(cmd.command)))
    return channels


def iso(ts: float | None) -> str | None:
    """An ISO-8601 UTC time (seconds) from Unix seconds."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def human_duration(seconds: float) -> str:
    """12 s, 4 min 5 s, 2 h, 1 d 4 h: two units at most, a zero minor unit left out."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        major, unit, rest, minor = s // 60, "min", s % 60, "s"
    elif s < 86400:
        major, unit, rest, minor = s // 3600, "h", s % 3600 // 60, "min"
    else:
        major, unit, rest, minor = s // 86400, "d", s % 86400 // 3600, "h"
    return f"{major} {unit}" + (f" {rest} {minor}" if rest else "")


def safe_url(url: str) -> str:
    """A URL without credentials, query or fragment (they may hold tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return redactor(urlunsplit((parts.scheme, netloc, parts.path, "", "")))


def alert_document(event: Event, profile: str, location: str, base_url: str) -> dict[str, Any]:
    """The alert as JSON (the generic webhook body and the command's stdin); `text` is the one-line summary."""
    inc = event.incident
    where = f"{profile} ({location})" if location != "default" else profile
    if len(inc.locations) > 1:  # the probes of several locations agree
        where = f"{profile} (seen from {', '.join(inc.locations)})"
    checks = ", ".join(inc.checks)
    if event.kind == "down":
        text = (f"[synthgate] DOWN: {where}: {event.check.check_id} failing since {iso(inc.started_at)} "
                f"({event.check.consecutive_failures} consecutive failures): {event.result.message}")
    elif event.kind == "recovered":
        text = (f"[synthgate] RECOVERED: {where} after {human_duration(inc.downtime_s or 0.0)} of downtime "
                f"(incident #{inc.id}: {checks})")
    else:
        text = (f"[synthgate] STILL DOWN: {where} for {human_duration(event.result.ts - inc.started_at)} "
                f"(reminder {inc.reminders}, incident #{inc.id}): down: {checks}")
    text = redactor(text)
    if len(text) > TEXT_LIMIT:
        text = text[:TEXT_LIMIT - 1] + "…"
    return {
        "event": event.kind,
        "status": "up" if event.kind == "recovered" else "down",
        "target": profile,
        "location": location,
        "base_url": safe_url(base_url),
        "text": text,
        "incident": {
            "id": inc.id,
            "started_at": iso(inc.started_at),
            "detected_at": iso(inc.detected_at),
            "resolved_at": iso(inc.resolved_at),
            "downtime_s": None if inc.downtime_s is None else round(inc.downtime_s, 3),
            "checks": list(inc.checks),
            "message": redactor(inc.message)[:TEXT_LIMIT],
            "reminders": inc.reminders,
            "locations": list(inc.locations),
        },
        "check": {
            "id": event.check.check_id,
            "consecutive_failures": event.check.consecutive_failures,
            "message": redactor(event.result.message)[:TEXT_LIMIT],
            "at": iso(event.result.ts),
        },
        "sent_by": "synthgate",
    }


class AlertDispatcher:
    """Delivers the outbox of one (profile, location): one daemon worker thread per channel."""

    def __init__(self, store: Store, profile: str, location: str, channels: list[Channel],
                 log: Callable[[str], None], on_delivery: Callable[[Channel, str, str], None] | None = None,
                 backoff_s: float = BACKOFF_S, max_age_s: float = MAX_AGE_S) -> None:
        self.store = store
        self.profile = profile
        self.location = location
        self.channels = channels
        self.log = log
        self.on_delivery = on_delivery
        self.backoff_s = backoff_s
        self.max_age_s = max_age_s
        self._wake = {c.key: threading.Event() for c in channels}
        self._stop = threading.Event()
        self._deadline: float | None = None  # set by close(): finish what fits before it, then leave
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the workers (they also pick up alerts left pending by a previous run)."""
        orphans = self.store.expire_orphans(self.profile, self.location, [c.key for c in self.channels])
        if orphans:
            self.log(f"alerts: {orphans} pending alert(s) of channels no longer in the profile expired")
        for channel in self.channels:
            t = threading.Thread(target=self._work, args=(channel,), name=f"alerts {channel.key}", daemon=True)
            t.start()
            self._threads.append(t)

    def notify(self) -> None:
        """New alerts are in the outbox."""
        for ev in self._wake.values():
            ev.set()

    def close(self, grace_s: float = 10.0) -> int:
        """Deliver what can be delivered within `grace_s`, stop the workers; returns how many are still pending."""
        self._deadline = time.monotonic() + grace_s
        self.notify()
        for t in self._threads:
            t.join(timeout=max(0.0, self._deadline - time.monotonic()))
        self._stop.set()
        self.notify()
        return sum(1 for a in self.store.alerts(self.profile, self.location) if a.status == "pending"
                   and a.channel in self._wake)

    def _closing_and_done(self, wait_s: float = 0.0) -> bool:
        """True when closing and the next step would not finish before the deadline."""
        return self._stop.is_set() or (self._deadline is not None
                                       and time.monotonic() + wait_s >= self._deadline)

    def _work(self, channel: Channel) -> None:
        wake = self._wake[channel.key]
        while not self._stop.is_set():
            wake.clear()
            try:
                row = self.store.next_alert(self.profile, self.location, channel.key)
            except Exception as exc:  # noqa: BLE001 - a store hiccup must not kill the worker
                self.log(f"alerts: {channel.label}: cannot read the outbox: {exc}")
                row = None
            if row is None:
                if self._deadline is not None:
                    return
                wake.wait(timeout=1.0)
                continue
            now = time.time()
            if row.next_attempt_at > now:
                if self._closing_and_done(row.next_attempt_at - now):
                    return
                wake.wait(timeout=min(row.next_attempt_at - now, 1.0))
                continue
            if self._deadline is not None and self._closing_and_done():
                return
            try:
                self._attempt(channel, row, now)
            except Exception as exc:  # noqa: BLE001 - e.g. the store closed under a stuck delivery at exit
                if self._stop.is_set():
                    return
                self.log(f"alerts: {channel.label}: cannot record the delivery of alert #{row.id}: {exc}")
                wake.wait(timeout=1.0)

    def _attempt(self, channel: Channel, row: AlertRow, now: float) -> None:
        attempts = row.attempts + 1
        if now - row.created_at > self.max_age_s:
            self.store.alert_done(row.id, "expired", row.attempts, f"undelivered for over {self.max_age_s:.0f} s")
            self.log(f"alerts: {channel.label}: {row.event} alert #{row.id} expired undelivered")
            self._delivered(channel, row.event, "expired")
            return
        try:
            channel.deliver(row.payload)
        except DeliveryError as exc:
            if attempts > channel.retries:
                self.store.alert_done(row.id, "failed", attempts, str(exc))
                self.log(f"alerts: {channel.label}: {row.event} alert #{row.id} FAILED after {attempts} attempt(s): "
                         f"{exc}")
                self._delivered(channel, row.event, "failed")
            else:
                delay = self.backoff_s * 2 ** (attempts - 1)
                self.store.alert_retry(row.id, attempts, time.time() + delay, str(exc))
                self.log(f"alerts: {channel.label}: {row.event} alert #{row.id} attempt {attempts} failed: {exc}; "
                         f"retrying in {delay:g} s")
                self._delivered(channel, row.event, "retry")
            return
        except Exception as exc:  # noqa: BLE001 - a bug in one channel must not stop the others
            self.store.alert_done(row.id, "failed", attempts, redactor(f"{exc.__class__.__name__}: {exc}"))
            self.log(redactor(f"alerts: {channel.label}: {row.event} alert #{row.id} FAILED: {exc}"))
            self._delivered(channel, row.event, "failed")
            return
        self.store.alert_done(row.id, "sent", attempts)
        self.log(f"alerts: {channel.label}: {row.event} alert #{row.id} sent")
        self._delivered(channel, row.event, "sent")

    def _delivered(self, channel: Channel, event: str, outcome: str) -> None:
        if self.on_delivery is not None:
            self.on_delivery(channel, event, outcome)
