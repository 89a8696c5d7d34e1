"""Release readiness and deploy hygiene: TLS (https targets), security headers and cookie flags, broken links.

A `warn` finding passes and is reported as a warning; a `fail` one fails the check. TLS checks exist only for an
https base URL (an http one gets none, rather than skipped ones): the registry's `applies` for the kind.
"""

from synthgate.checks import smoke
from synthgate.checks.findings import warnings_of


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
