"""Every request of the fuzz run: writes refused unless the profile allows them, paced, with the profile's
synthetic-traffic headers, and counted for the test running now. An answer from another version than the pinned
one (synthgate rollout) is counted, never judged."""

from __future__ import annotations

import threading

import httpx
from hypothesis import reject

from synthgate import version_pin
from synthgate.fuzz.findings import TestRun
from synthgate.fuzz.pacing import Pacer
from synthgate.fuzz.properties import THROTTLED
from synthgate.fuzz.strategies import Probe
from synthgate.http import Exchange, make_client, send_raw
from synthgate.profile import Profile
from synthgate.profile.fuzz import SAFE_METHODS

# Requests the HTTP client itself refuses to send (an illegal header value, a URL over its length limit):
# the target never saw them, so they say nothing about it and the example is discarded.
CLIENT_SIDE_ERRORS = ("LocalProtocolError", "UnsupportedProtocol", "InvalidURL")


class WriteRefused(RuntimeError):
    """A request with a write method while the profile does not allow writes."""


class Sender:
    """The fuzz run's requests to one target: a shared client for Hypothesis' examples, one client per worker
    thread for the coverage phase, one pacer for all of them."""

    def __init__(self, profile: Profile, base_url: str, pacer: Pacer, allow_writes: bool) -> None:
        self.profile = profile
        self.base_url = base_url
        self.pacer = pacer
        self.allow_writes = allow_writes
        self.client = make_client(profile)
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._clients_lock = threading.Lock()
        self.run: TestRun | None = None  # the test whose requests are counted now (None between tests)

    def close(self) -> None:
        """Close the shared client and the coverage phase's clients."""
        self.client.close()
        for client in self._clients:
            client.close()

    @staticmethod
    def new_session() -> httpx.Cookies:
        """A fresh session for stateful flows: its own cookie jar (clients are costly to create, jars are not)."""
        return httpx.Cookies()

    def url(self, path: str) -> str:
        """The absolute URL of a path on the target."""
        return self.base_url + path

    def send(self, method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None,
             query: dict[str, str] | None = None, session: httpx.Cookies | None = None) -> Exchange:
        """Send one request inside a Hypothesis example: writes refused unless allowed, paced, with the
        synthetic-traffic headers; an example the client cannot send or another version answered is rejected.

        Without `session` the request starts a fresh session (no cookies kept), so every example stands alone
        and its curl line reproduces it; with one, the session's cookies go out and come back updated.
        """
        method = method.upper()
        if method not in SAFE_METHODS and not self.allow_writes:
            raise WriteRefused(f"{method} {url}: writes are not allowed (set fuzz.allow_writes in the profile)")
        self.pacer.wait()
        if session is not None:
            self.client.cookies = session  # the client copies the session's cookies
        try:
            # profile secrets are registered when templates expand; generated header values are not secrets
            ex = send_raw(self.client, method, url, headers, body, params=query or None, learn_headers=False)
        except (httpx.InvalidURL, UnicodeError):
            self.client.cookies.clear()
            reject()
        if ex.error and ex.error.startswith(CLIENT_SIDE_ERRORS):
            self.client.cookies.clear()
            reject()
        if session is not None:
            session.update(self.client.cookies)
        self.client.cookies.clear()
        if not self.pinned(ex):
            reject()  # another version answered: this example says nothing about the pinned one
        if self.run is not None:
            self.run.requests += 1
            self.run.throttled += ex.status == THROTTLED
        return ex

    def pinned(self, ex: Exchange) -> bool:
        """Whether the answer may be judged: nothing is pinned, or the pinned version served it (synthgate
        rollout; see synthgate/version_pin.py). An answer from another version is counted, never judged."""
        why = version_pin.mismatch(ex.response)
        if why is None:
            return True
        run = self.run
        if run is not None:
            run.wrong_version += 1
            run.wrong_version_why = run.wrong_version_why or why
        return False

    def _thread_client(self) -> httpx.Client:
        """One client per worker thread: one shared client serialises concurrent requests (MEASUREMENTS.md)."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = make_client(self.profile)
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def send_alone(self, probe: Probe) -> Exchange | None:
        """Send one probe from a worker thread, in a fresh session; None when the client cannot send it."""
        method = probe.method.upper()
        if method not in SAFE_METHODS and not self.allow_writes:
            raise WriteRefused(f"{method} {probe.path}: writes are not allowed (set fuzz.allow_writes)")
        client = self._thread_client()
        self.pacer.wait()
        try:
            ex = send_raw(client, method, self.url(probe.path), probe.headers, probe.body,
                          params=probe.query or None, learn_headers=False)
        except (httpx.InvalidURL, UnicodeError):
            return None
        finally:
            client.cookies.clear()
        if ex.error and ex.error.startswith(CLIENT_SIDE_ERRORS):
            return None
        return ex
