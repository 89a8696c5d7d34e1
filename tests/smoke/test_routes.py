"""Route exists: every declared API route rejects a minimal invalid request with a 4xx that is not 404."""

from synthgate.checks import smoke


def test_route_exists(route_check, sg_profile, sg_target, sg):
    sg.attempted(route_check.id, smoke.execute(route_check, sg_profile, sg_target))
