"""TLS checks of an https base URL: certificate lifetime, hostname match, chain; HTTP->HTTPS redirect; HSTS."""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from synthgate.checks.findings import judge
from synthgate.checks.outcome import Outcome
from synthgate.http import make_client, send_raw
from synthgate.profile.model import Profile

# OpenSSL verify codes that mean the server does not send the certificates between its own and a trusted root.
_INCOMPLETE_CHAIN = {2, 20, 21}
_EXPIRED = 10
_HSTS_MAX_AGE = re.compile(r"(?:^|;)\s*max-age\s*=\s*\"?(\d+)\"?", re.IGNORECASE)


@dataclass
class CertFacts:
    """What the server's certificate says, and whether its chain verified against the trusted roots."""

    not_after: datetime
    dns_names: list[str]
    ip_addresses: list[str]
    issuer: str
    verify_code: int | None = None  # None: the chain verified
    verify_message: str = ""


def is_https(base_url: str) -> bool:
    """Whether the TLS checks apply to this base URL."""
    return base_url.lower().startswith("https://")


def days_left(not_after: datetime, now: datetime | None = None) -> float:
    """Days (fractional) until `not_after`; negative once expired."""
    return (not_after - (now or datetime.now(UTC))).total_seconds() / 86400


def hostname_matches(host: str, dns_names: list[str], ip_addresses: list[str]) -> bool:
    """RFC 6125 matching against the subjectAltName: exact names, or one wildcard left-most label."""
    try:
        wanted = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        wanted = None
    if wanted is not None:
        return any(ipaddress.ip_address(ip) == wanted for ip in ip_addresses)
    host = host.lower().rstrip(".")
    for name in (n.lower().rstrip(".") for n in dns_names):
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:] and name[2:].count(".") >= 1:
            return True
    return False


def expiry_finding(days: float, min_days: int, warn_days: int) -> tuple[str, str] | None:
    """(severity, message) for a certificate that expires in `days`, or None when it has long enough."""
    if days < 0:
        return "fail", f"certificate expired {-days:.0f} days ago"
    if days < min_days:
        return "fail", f"certificate expires in {days:.0f} days (under tls.min_days {min_days})"
    if days < warn_days:
        return "warn", f"certificate expires in {days:.0f} days (under tls.warn_days {warn_days})"
    return None


def hsts_finding(value: str | None) -> str | None:
    """What is wrong with a Strict-Transport-Security value, or None when it sets a positive max-age."""
    if not value:
        return "Strict-Transport-Security (HSTS) header missing"
    match = _HSTS_MAX_AGE.search(value)
    if match is None:
        return f"Strict-Transport-Security has no max-age: {value!r}"
    if int(match.group(1)) <= 0:
        return f"Strict-Transport-Security max-age is 0 (HSTS switched off): {value!r}"
    return None


def _context(ca_bundle: str | None, verify: bool) -> ssl.SSLContext:
    if not verify:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context = httpx.create_ssl_context()  # the roots the gate's HTTP clients trust
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    context.check_hostname = False  # matched below, to say what the certificate names instead
    return context


def _peer_der(host: str, port: int, context: ssl.SSLContext, timeout_s: float) -> bytes:
    with socket.create_connection((host, port), timeout=timeout_s) as sock, \
            context.wrap_socket(sock, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("the server sent no certificate")
    return der


def inspect(host: str, port: int, ca_bundle: str | None, timeout_s: float) -> CertFacts:
    """Handshake with the server and read its certificate; a chain that fails to verify is read unverified."""
    code: int | None = None
    message = ""
    try:
        der = _peer_der(host, port, _context(ca_bundle, True), timeout_s)
    except ssl.SSLCertVerificationError as exc:
        code, message = exc.verify_code, exc.verify_message
        der = _peer_der(host, port, _context(None, False), timeout_s)
    # deferred: cryptography (50 ms) loads only when a certificate is read, not in every process that imports the
    # check registry (stage children, gates, probes), most of them against plain-HTTP targets
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = list(san.get_values_for_type(x509.DNSName))
        ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns, ips = [], []
    return CertFacts(not_after=cert.not_valid_after_utc, dns_names=dns, ip_addresses=ips,
                     issuer=cert.issuer.rfc4514_string(), verify_code=code, verify_message=message)


def _host_port(base_url: str) -> tuple[str, int]:
    url = httpx.URL(base_url)
    return url.host, url.port or 443


def certificate(profile: Profile, base_url: str, _spec: object = None) -> Outcome:
    """Days until the certificate expires, hostname match and a complete, trusted chain."""
    cfg = profile.tls
    host, port = _host_port(base_url)
    curl = f"openssl s_client -connect {host}:{port} -servername {host} </dev/null | openssl x509 -noout -dates"
    try:
        facts = inspect(host, port, cfg.ca_bundle_path(), min(profile.defaults.timeout_s, 10.0))
    except TimeoutError as exc:
        return Outcome(ok=False, message=f"TLS handshake with {host}:{port} timed out ({exc})", kind="error", curl=curl,
                       retryable=True)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError; a certificate cryptography cannot read
        kind = "unreachable" if isinstance(exc, socket.gaierror) else "error"
        return Outcome(ok=False, message=f"TLS handshake with {host}:{port} failed: {exc}", kind=kind, curl=curl,
                       retryable=True)
    findings: list[tuple[str, str]] = []
    days = days_left(facts.not_after)
    expiry = expiry_finding(days, cfg.min_days, cfg.warn_days)
    if expiry is not None:
        findings.append(expiry)
    if not hostname_matches(host, facts.dns_names, facts.ip_addresses):
        names = ", ".join(facts.dns_names + facts.ip_addresses) or "no subjectAltName"
        findings.append((cfg.hostname, f"certificate does not name {host} (it names {names})"))
    if facts.verify_code is not None and facts.verify_code != _EXPIRED:
        why = ("chain does not reach a trusted root: the server does not send its intermediate certificates, "
               "or its CA is not trusted here (tls.ca_bundle)"
               if facts.verify_code in _INCOMPLETE_CHAIN else "certificate chain does not verify")
        findings.append((cfg.chain, f"{why} ({facts.verify_message}, issuer {facts.issuer})"))
    ok = f"certificate valid for {days:.0f} more days (until {facts.not_after:%Y-%m-%d}), names {host}, chain verifies"
    return judge(findings, ok_message=ok, curl=curl)


def http_redirect(profile: Profile, base_url: str, _spec: object = None) -> Outcome:
    """Plain HTTP, when it answers at all, redirects to https://."""
    cfg = profile.tls
    url = cfg.http_url or str(httpx.URL(base_url).copy_with(scheme="http", port=None, path="/"))
    with make_client(profile, timeout_s=min(profile.defaults.timeout_s, 5.0), follow_redirects=False) as client:
        ex = send_raw(client, "GET", url, follow_redirects=False)
    if ex.response is None:
        return Outcome(ok=True, message=f"plain HTTP not served at {url} ({ex.error}): nothing to redirect",
                       exchanges=[ex])
    location = ex.response.headers.get("location", "")
    if ex.status in (301, 302, 303, 307, 308) and location.lower().startswith("https://"):
        return Outcome(ok=True, message=f"plain HTTP redirects ({ex.status}) to {location}", exchanges=[ex])
    where = f" to {location}" if location else ""
    return judge([(cfg.http_redirect, f"plain HTTP at {url} answered {ex.status}{where} instead of redirecting "
                                      "to https://")], [ex])


def hsts(profile: Profile, base_url: str, _spec: object = None) -> Outcome:
    """The https answer sets Strict-Transport-Security with a positive max-age."""
    path = profile.pages[0].path if profile.pages else "/"
    with make_client(profile, follow_redirects=False) as client:
        ex = send_raw(client, "GET", base_url.rstrip("/") + path, follow_redirects=False)
    if ex.response is None:
        return Outcome(ok=False, message=ex.error or "no response", kind=ex.error_kind or "error", exchanges=[ex],
                       curl=ex.curl())
    problem = hsts_finding(ex.response.headers.get("strict-transport-security"))
    findings = [(profile.tls.hsts, f"{problem} on GET {path}")] if problem else []
    return judge(findings, [ex], ok_message="HSTS: " + ex.response.headers.get("strict-transport-security", ""))
