"""TLS material for `synthgate demo serve --tls`: a throwaway CA and a server certificate, made at start.

Apart from `demo.tls` (when to serve HTTPS, and where the files go), so that a demo start over plain HTTP never
loads cryptography."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from synthgate.demo.tls import HEALTHY_CERT_DAYS, cert_days_for, tls_dir_for

CA_DAYS = 3650


@dataclass(frozen=True)
class TlsFiles:
    """Where the certificate material was written."""

    ca: Path  # the CA certificate a client must trust (what ca_bundle points at)
    cert: Path  # the server certificate
    key: Path  # the server's private key


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "synthgate demo"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_tls_files(directory: Path, days: float = HEALTHY_CERT_DAYS, host: str = "127.0.0.1",
                   names: list[str] | None = None) -> TlsFiles:
    """Write a new CA and a server certificate valid for `days` into `directory`; the certificate names `host`,
    localhost and 127.0.0.1 (or exactly `names`, when given)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())  # P-256: milliseconds to make, unlike RSA
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("synthgate demo CA"))
        .issuer_name(_name("synthgate demo CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    wanted = names if names is not None else list(dict.fromkeys([host, "localhost", "127.0.0.1"]))
    alt_names: list[x509.GeneralName] = []
    for name in wanted:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(host))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(ca=directory / "ca.pem", cert=directory / "cert.pem", key=directory / "key.pem")
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # a private key is never world-readable
    with os.fdopen(fd, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return files


def uvicorn_tls_args(state_path: Path, fault: str | None, host: str) -> dict[str, str]:
    """Make fresh certificate material for this start and return uvicorn's ssl_* arguments."""
    files = make_tls_files(tls_dir_for(state_path), cert_days_for(fault), host)
    return {"ssl_certfile": str(files.cert), "ssl_keyfile": str(files.key)}
