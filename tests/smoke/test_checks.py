"""The profile's declared checks: expected statuses (400/402, never 404), auth (401), sessions and quotas."""

from synthgate.checks import smoke


def test_declared(declared_check, sg_profile, sg_target, sg):
    sg.attempted(declared_check.id, smoke.execute(declared_check, sg_profile, sg_target))
