"""The fast User's HTTP/1.1 client and HDR recording, against the loopback calibration server.

gevent is imported here without monkey-patching (the client uses gevent sockets explicitly), so these
tests run in pytest's own process; Locust itself is never imported here.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthgate.loadgen.client import CookieJar, FastClient
from synthgate.loadgen.hdr import Recorder, decode, encode, new_histogram, percentiles_ms, quantize_us
from synthgate.loadgen.testserver import CalibrationServer


@pytest.fixture(scope="module")
def server() -> Iterator[CalibrationServer]:
    with CalibrationServer() as srv:
        yield srv


def _client(url: str, **kw: object) -> tuple[FastClient, Recorder]:
    rec = Recorder()
    return FastClient(url, rec, **kw), rec  # type: ignore[arg-type]


def test_keep_alive_reuses_one_connection(server: CalibrationServer) -> None:
    client, rec = _client(server.url)
    req = client.prepare("GET", "/", name="root")
    assert client.send(req) == 200
    sock = client.conn.sock
    for _ in range(49):
        assert client.send(req) == 200
    assert sock is not None and client.conn.sock is sock  # never reconnected
    assert client.conn.served == 50
    (iv,) = rec.flush()
    assert (iv.n, iv.fails, iv.samples, iv.nbytes) == (50, 0, 50, 150)


def test_chunked_bodies_then_keep_alive(server: CalibrationServer) -> None:
    client, _ = _client(server.url)
    resp = client.get("/chunked")
    assert (resp.status, resp.body) == (200, b"hello chunked world\n")
    sock = client.conn.sock
    big = client.prepare("GET", "/big")
    assert client.send(big) == 200
    assert client.conn.last.nbytes == 16 * 16384  # every chunk of a 256 KiB body, across many reads
    assert client.get("/").body == b"ok\n"
    assert sock is not None and client.conn.sock is sock


def test_close_delimited_body_and_reconnect(server: CalibrationServer) -> None:
    client, _ = _client(server.url)
    resp = client.get("/close")
    assert (resp.status, resp.body) == (200, b"closed body\n")
    assert client.conn.sock is None  # Connection: close honoured
    assert client.get("/").status == 200  # and the next request reconnects


def test_head_has_no_body_and_keeps_the_connection(server: CalibrationServer) -> None:
    client, _ = _client(server.url)
    assert client.request("HEAD", "/").status == 200
    sock = client.conn.sock
    assert client.get("/").body == b"ok\n"
    assert sock is not None and client.conn.sock is sock


def test_redirects_and_cookies(server: CalibrationServer) -> None:
    client, rec = _client(server.url)
    resp = client.get("/redirect", name="redir")
    assert (resp.status, resp.body) == (200, b"hello chunked world\n")
    assert client.get("/cookie").status == 200
    assert client.jar.cookies == {"sg_session": "abc123"}
    assert client.get("/echo-cookie").body == b"sg_session=abc123"
    rec.flush()
    assert rec.totals[("GET", "redir")].n == 1  # the whole chain is one sample under the first name


def test_cookie_jar_expiry() -> None:
    jar = CookieJar()
    jar.update([b"a=1; Path=/", b"b=2"])
    assert jar.header == b"Cookie: a=1; b=2\r\n"
    jar.update([b"a=; Max-Age=0", b"b=3; Expires=Thu, 01 Jan 1970 00:00:00 GMT"])
    assert jar.cookies == {} and jar.header == b""


def test_unexpected_status_is_a_failure_with_a_sample(server: CalibrationServer) -> None:
    client, rec = _client(server.url)
    assert client.send(client.prepare("GET", "/status/500", name="s")) == 500
    assert client.send(client.prepare("GET", "/status/404", name="s", expect_status=[404])) == 404
    (iv,) = rec.flush()
    assert (iv.n, iv.fails, iv.samples, iv.errors) == (2, 1, 2, {"HTTP 500": 1})


def test_connection_refused_is_evidence_not_unreachable(server: CalibrationServer) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client, rec = _client(f"http://127.0.0.1:{port}")
    assert client.send(client.prepare("GET", "/", name="x")) == -1
    (iv,) = rec.flush()
    assert (iv.n, iv.fails, iv.none, iv.unreachable, iv.errors) == (1, 1, 1, 0, {"connection refused": 1})


def test_read_timeout_records_the_time_spent() -> None:
    with CalibrationServer("--delay-ms", "400") as slow:
        client, rec = _client(slow.url, read_timeout=0.1)
        assert client.send(client.prepare("GET", "/", name="t")) == -1
    (iv,) = rec.flush()
    assert iv.fails == 1 and iv.samples == 1 and iv.min_us >= 100_000
    assert list(iv.errors) == ["read timeout after 0.1 s"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_tls(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    with CalibrationServer("--tls-cert", str(cert), "--tls-key", str(key)) as tls:
        client, _ = _client(tls.url, verify_tls=False)
        assert client.get("/chunked").body == b"hello chunked world\n"
        assert client.get("/").status == 200
        strict, rec = _client(tls.url)  # a self-signed certificate fails verification: evidence
        assert strict.send(strict.prepare("GET", "/", name="v")) == -1
    (iv,) = rec.flush()
    assert iv.unreachable == 0 and next(iter(iv.errors)).startswith("TLS handshake failed")


def test_quantize_matches_hdr_buckets() -> None:
    hist = new_histogram()
    rnd = random.Random(7)
    for _ in range(5000):
        v = int(10 ** rnd.uniform(0, 9))
        assert quantize_us(v) == hist.get_lowest_equivalent_value(v)


def test_recorder_merges_exactly() -> None:
    # two "workers" recording halves of the same data: merged percentiles equal one recorder's
    values = [1000 + 37 * i for i in range(20_000)]
    one, a, b = Recorder(), Recorder(keep_pending=True), Recorder(keep_pending=True)
    for i, v in enumerate(values):
        one.name("GET", "x").ok(v, 0, 1.0)
        (a if i % 2 else b).name("GET", "x").ok(v, 0, 1.0)
    one.flush()
    a.flush()
    b.flush()
    master = Recorder()
    master.add_wire(a.take_pending())
    master.add_wire(b.take_pending())
    merged, single = master.totals[("GET", "x")], one.totals[("GET", "x")]
    assert merged.n == 20_000
    assert percentiles_ms(merged.hist) == percentiles_ms(single.hist)
    assert len(merged.reservoir.values()) == 5000  # uniform sample over both, cut to the reservoir size
    assert decode(encode(merged.hist)).get_total_count() == 20_000
