"""Release readiness and deploy hygiene: TLS (https targets), security headers and cookie flags, broken links.

A `warn` finding passes and is reported as a warning; a `fail` one fails the check.
"""

import pytest

from synthgate.checks import smoke
from synthgate.checks.findings import warnings_of
from synthgate.checks.tls import is_https


def _run(check, profile, target, sg):
    result = smoke.execute(check, profile, target)
    warnings = warnings_of(result.final)
    try:
        sg.attempted(check.id, result)
    finally:
        if warnings:
            sg.set(details={"warnings": warnings})


def test_tls(tls_check, sg_profile, sg_target, sg):
    if not is_https(sg_target):
        pytest.skip(f"TLS checks apply to https base URLs only ({sg_target})")
    _run(tls_check, sg_profile, sg_target, sg)


def test_hygiene(hygiene_check, sg_profile, sg_target, sg):
    _run(hygiene_check, sg_profile, sg_target, sg)


def test_links(links_check, sg_profile, sg_target, sg):
    _run(links_check, sg_profile, sg_target, sg)
