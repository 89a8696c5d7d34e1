"""The HTTP client a team's own checks get (`sg_client`): the profile's headers and timeouts, transport retries
with backoff, and a record of every exchange for the report (redacted, with a curl command to reproduce it).

Only transport failures are retried (connection refused or reset, timeouts, DNS): a 5xx is the deployment
answering, and the check sees it.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from synthgate.http import Exchange, classify, make_client
from synthgate.profile import Profile
from synthgate.redact import redactor


class CheckClient:
    """httpx-like `get/post/...` against the base URL; paths may be relative (`/api/x`)."""

    def __init__(self, profile: Profile, base_url: str) -> None:
        self.profile = profile
        self.base_url = base_url.rstrip("/")
        self.retries = profile.defaults.retries
        self.backoff_s = profile.defaults.backoff_s
        self.client = make_client(profile)
        self.exchanges: list[Exchange] = []
        self.attempts = 1  # the most attempts any one request needed
        self.retried = False

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request; transport failures are retried with exponential backoff, then raised."""
        full = url if url.startswith(("http://", "https://")) else self.base_url + "/" + url.lstrip("/")
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried = True
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            self.attempts = max(self.attempts, attempt + 1)
            request = self.client.build_request(method, full, **kwargs)
            ex = Exchange(method=method, url=str(request.url), headers=dict(request.headers),
                          body=request.read() or None)
            start = time.perf_counter()
            try:
                ex.response = self.client.send(request)
                ex.response.read()
            except httpx.TransportError as exc:
                ex.error_kind, ex.error = classify(exc)
                ex.duration_ms = (time.perf_counter() - start) * 1000
                self.exchanges.append(ex)
                if attempt == self.retries:
                    raise
                continue
            ex.duration_ms = (time.perf_counter() - start) * 1000
            self.exchanges.append(ex)
            return ex.response
        raise AssertionError("unreachable")  # the loop returns or raises

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET."""
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> httpx.Response:
        """HEAD."""
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> httpx.Response:
        """OPTIONS."""
        return self.request("OPTIONS", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """POST."""
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        """PUT."""
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        """PATCH."""
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        """DELETE."""
        return self.request("DELETE", url, **kwargs)

    def result_fields(self) -> dict[str, Any]:
        """What the result line says about this test's requests: attempts, flakiness, curl of the last one."""
        fields: dict[str, Any] = {"attempts": self.attempts, "flaky": self.retried}
        if self.exchanges:
            last = self.exchanges[-1]
            fields["curl"] = redactor(last.curl())
            if last.status is not None:
                fields["details"] = {"status": last.status, "latency_ms": round(last.duration_ms, 2)}
        return fields

    def attach(self) -> None:
        """Every exchange as an Allure attachment (redacted)."""
        try:
            import allure
        except ImportError:
            return
        for n, ex in enumerate(self.exchanges, 1):
            allure.attach(ex.describe(), name=f"request {n}", attachment_type=allure.attachment_type.TEXT)
            allure.attach(redactor(ex.curl()), name=f"request {n} curl", attachment_type=allure.attachment_type.TEXT)
