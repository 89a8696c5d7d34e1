"""Wait for the new release to be live before any stage judges: poll the release marker (health field, response
header, or an asset hash in a page) until it shows the expected value on `release.consecutive` answers in a row,
up to `release.wait_s`. A release that never goes live makes the gate inconclusive, never a pass or a fail."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

import httpx

from synthgate.bounded import response_json
from synthgate.checks.expect import MISSING, lookup
from synthgate.http import make_client, send_raw
from synthgate.profile import ProfileError
from synthgate.profile.model import Profile
from synthgate.results import CheckResult, ReleaseWait, Verdict

CHECK_ID = "release-live"
_SHORT_SHA = 7  # a short git SHA names the same release as the full one


def expected_release(cli_value: str | None, profile: Profile, target_release: str | None = None) -> tuple[str, str]:
    """(expected value, where it came from): --expect-release, else release.expect_env's variable, else the
    release the embedded target was started with; ("", "") when nothing is expected. A value that is set but
    empty (an unset CI variable) is a ProfileError, never "wait for nothing"."""
    env = profile.release.expect_env
    for value, source in ((cli_value, "--expect-release"), (os.environ.get(env) if env else None, f"${env}")):
        if value is not None and not value.strip():
            raise ProfileError(f"{source}: set but empty: expected the release id the new deploy shows "
                               "(an unset CI variable? pass a value, or leave it out to judge without waiting)")
    if cli_value:
        return cli_value.strip(), "--expect-release"
    if env and os.environ.get(env):
        return os.environ[env], f"${env}"
    if target_release:
        return target_release, "the embedded target's release"
    return "", ""


def matches(seen: str | None, expected: str) -> bool:
    """Equal, or a short and a full git SHA of one commit."""
    if seen is None:
        return False
    if seen == expected:
        return True
    short, full = sorted((seen, expected), key=len)
    return len(short) >= _SHORT_SHA and full.startswith(short)


def describe_source(profile: Profile) -> str:
    """Where the marker is read, for messages: "health version", "header X-Release on /", "page /"."""
    cfg = profile.release
    if cfg.source == "health":
        return f"{_path(profile)} field {cfg.field}"
    if cfg.source == "header":
        return f"header {cfg.header} on {_path(profile)}"
    return f"page {_path(profile)}" + (f" /{cfg.pattern}/" if cfg.pattern else "")


def _path(profile: Profile) -> str:
    cfg = profile.release
    if cfg.path:
        return cfg.path
    if cfg.source == "health" and profile.health is not None:
        return profile.health.path
    return "/"


def marker_of(profile: Profile, response: httpx.Response, expected: str) -> str | None:
    """The release the answer shows, or None when it shows none."""
    cfg = profile.release
    if cfg.source == "header":
        return response.headers.get(cfg.header or "")
    if cfg.source == "health":
        try:
            value = lookup(response_json(response), cfg.field)
        except ValueError:
            return None
        return None if value is MISSING or value is None else str(value)
    text = response.text
    if cfg.pattern:
        found = re.search(cfg.pattern, text)
        return (found.group(1) if found.groups() else found.group(0)) if found else None
    return expected if expected in text else None


def wait_until_live(profile: Profile, base_url: str, expected: str, origin: str,
                    progress: Callable[[str], None] = print,
                    sleep: Callable[[float], None] = time.sleep) -> ReleaseWait:
    """Poll the marker until `consecutive` answers in a row show `expected`, or `wait_s` passes."""
    cfg = profile.release
    source = describe_source(profile)
    url = base_url.rstrip("/") + _path(profile)
    progress(f"release: waiting for {expected} ({origin}) to show in {source}, "
             f"{cfg.consecutive} answer(s) in a row, up to {cfg.wait_s:g} s")
    start = time.monotonic()
    streak = polls = unreadable = 0
    seen: str | None = None
    last_error = ""
    timeout = min(profile.defaults.timeout_s, max(1.0, cfg.wait_s))
    with make_client(profile, timeout_s=timeout) as client:
        while True:
            ex = send_raw(client, "GET", url)
            polls += 1
            previous = seen
            if ex.response is None:
                seen, last_error = None, ex.error or "no answer"
            else:
                seen, last_error = marker_of(profile, ex.response, expected), ""
                if ex.response.status_code >= 400:
                    last_error = f"answered {ex.response.status_code}"
            if seen != previous and seen is not None:
                progress(f"release: {source} shows {seen}")
            streak = streak + 1 if matches(seen, expected) else 0
            # an answer that names no release (a 5xx, no such field) is no propagation delay: let the stages judge it
            unreadable = unreadable + 1 if ex.response is not None and seen is None else 0
            elapsed = time.monotonic() - start
            if unreadable >= cfg.consecutive:
                message = (f"the release marker ({source}) could not be read on {unreadable} answers in a row "
                           f"({last_error or 'no release in the answer'}): the stages judge what answers")
                progress(f"release: {message}")
                return ReleaseWait(expected=expected, origin=origin, source=source, live=False, readable=False,
                                   waited_s=round(elapsed, 3), polls=polls, consecutive=cfg.consecutive,
                                   last_seen=None, message=message)
            if streak >= cfg.consecutive:
                progress(f"release: {expected} is live after {elapsed:.1f} s ({polls} polls)")
                return ReleaseWait(expected=expected, origin=origin, source=source, live=True,
                                   waited_s=round(elapsed, 3), polls=polls, consecutive=cfg.consecutive,
                                   last_seen=seen, message=f"release {expected} live after {elapsed:.1f} s")
            if elapsed + cfg.interval_s > cfg.wait_s:
                break
            sleep(cfg.interval_s)
    elapsed = time.monotonic() - start
    shown = f"{source} still shows {seen}" if seen is not None else f"{source} shows no release"
    detail = f"; last poll: {last_error}" if last_error else ""
    message = (f"the new release did not go live within {cfg.wait_s:g} s: expected {expected} ({origin}), "
               f"{shown} after {polls} polls{detail}")
    progress(f"release: {message}")
    return ReleaseWait(expected=expected, origin=origin, source=source, live=False, waited_s=round(elapsed, 3),
                       polls=polls, consecutive=cfg.consecutive, last_seen=seen, message=message)


def not_live_check(wait: ReleaseWait) -> CheckResult:
    """The check that makes the verdict inconclusive: the stages would have judged the old release."""
    return CheckResult(id=CHECK_ID, status="failed", kind="no-data", attempts=wait.polls,
                       duration_ms=round(wait.waited_s * 1000, 1), message=wait.message,
                       details={"release_wait": wait.model_dump(mode="json")})


def gate_check(verdict: Verdict, profile: Profile, base_url: str, cli_value: str | None,
               target_release: str | None, progress: Callable[[str], None]) -> CheckResult | None:
    """Wait for the expected release (if any) and record the wait in the verdict; the failed check when it never
    went live (the gate then judges nothing: inconclusive), else None."""
    expected, origin = expected_release(cli_value, profile, target_release)
    if not expected:
        return None
    wait = wait_until_live(profile, base_url, expected, origin, progress)
    verdict.release_wait = wait
    return None if wait.live or not wait.readable else not_live_check(wait)


def skip_reason(check: CheckResult) -> str:
    """Why the later stages were skipped after `check` (unreachable target, or a release never live)."""
    return "the new release is not live" if check.id == CHECK_ID else "target did not answer"
