"""Release readiness and deploy hygiene: TLS (https targets), security headers and cookie flags, broken links.

A `warn` finding passes and is reported as a warning; a `fail` one fails the check.
"""

from synthgate.checks import smoke
from synthgate.checks.findings import warnings_of
from synthgate.checks.tls import is_https
from synthgate.plugin import sg_profile_of, target_url


def pytest_generate_tests(metafunc):
    """TLS checks exist only for an https base URL (an http one gets none, rather than skipped ones)."""
    if "tls_check" in metafunc.fixturenames:
        profile, _ = sg_profile_of(metafunc.config)
        https = is_https(target_url(metafunc.config))
        checks = [c for c in smoke.plan(profile, readiness=True) if c.kind == "tls"] if https else []
        metafunc.parametrize("tls_check", checks, ids=[c.id for c in checks])


def _run(check, profile, target, sg):
    result = smoke.execute(check, profile, target)
    warnings = warnings_of(result.final)
    try:
        sg.attempted(check.id, result)
    finally:
        if warnings:
            sg.set(warnings=warnings)


def test_tls(tls_check, sg_profile, sg_target, sg):
    _run(tls_check, sg_profile, sg_target, sg)


def test_hygiene(hygiene_check, sg_profile, sg_target, sg):
    _run(hygiene_check, sg_profile, sg_target, sg)


def test_links(links_check, sg_profile, sg_target, sg):
    _run(links_check, sg_profile, sg_target, sg)
