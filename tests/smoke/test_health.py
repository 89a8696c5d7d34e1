"""Health endpoint: 200 with the right body, fresh timestamp, within budget."""

from synthgate.checks import smoke


def test_health(health_check, sg_profile, sg_target, sg):
    sg.attempted(health_check.id, smoke.execute(health_check, sg_profile, sg_target))
