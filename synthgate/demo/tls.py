"""When the demo target serves HTTPS, how long its certificate is valid, and where the material lives.

Free of cryptography, which every demo start would load otherwise: `demo.certs` makes the files."""

from __future__ import annotations

from pathlib import Path

# A healthy demo certificate lives long; the `cert-expiring` release gets one that ends in 3 days.
HEALTHY_CERT_DAYS = 90
EXPIRING_CERT_DAYS = 3


def cert_days_for(fault: str | None) -> float:
    """How long the served certificate is valid under `fault`."""
    return EXPIRING_CERT_DAYS if fault == "cert-expiring" else HEALTHY_CERT_DAYS


def uses_tls(fault: str | None, tls: bool) -> bool:
    """Whether the demo target serves HTTPS: when asked, and always for `cert-expiring`."""
    return tls or fault == "cert-expiring"


def tls_dir_for(state_path: Path) -> Path:
    """Where the certificate material of the target with this state file lives."""
    return state_path.with_name(state_path.stem + "-tls")
