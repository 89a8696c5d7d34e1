"""The transport publishes every exchange and every 401; listeners (5xx tally, re-login) subscribe to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loopback import StatusHandler, serve_handler

from synthgate import http, server_errors
from synthgate.profile.model import Profile, Request


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_handler(StatusHandler) as base:
        yield base


def test_a_tally_subscribed_for_a_block_counts_exactly_that_blocks_exchanges(url: str) -> None:
    profile = Profile.model_validate({"name": "t"})
    with http.make_client(profile) as client:
        http.send_raw(client, "GET", url + "/before")  # before the block: not this tally's
        with server_errors.counting() as own:
            http.send_raw(client, "GET", url + "/")
            http.send_raw(client, "GET", url + "/down")
            http.send_raw(client, "GET", "http://127.0.0.1:9/")  # refused: counted, no answer
        http.send_raw(client, "GET", url + "/after")
    traffic = own.take()
    assert (traffic.sent, traffic.server_errors) == (3, 1)


def test_a_listener_that_logged_in_again_has_the_request_resent_once(url: str) -> None:
    profile = Profile.model_validate({"name": "t"})
    seen: list[str] = []

    def relogin(event: http.Unauthorized) -> None:
        seen.append(event.request.path)
        event.retry = len(seen) == 1  # a fresh session the first time only

    http.events().subscribe(http.Unauthorized, relogin)
    try:
        with http.make_client(profile) as client:
            ex = http.send(client, url, profile, Request(path="/private"))
    finally:
        http.events().unsubscribe(http.Unauthorized, relogin)
    assert ex.status == 401 and seen == ["/private", "/private"]  # sent again once, then the 401 stands
