"""Pages answer 200 with their marker text within their latency budget."""

from synthgate.checks import smoke


def test_page(page_check, sg_profile, sg_target, sg):
    sg.attempted(page_check.id, smoke.execute(page_check, sg_profile, sg_target))
