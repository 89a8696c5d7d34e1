"""Auth checks try forged credentials: every check or route that sends the real token (`${auth.*}`, a secret) is
sent again with a syntactically valid but wrong one, and with none; both must be refused (401/403)."""

import pytest

from synthgate.checks import forged


def test_forged_credential(forged_check, sg_profile, sg_target, sg):
    result = forged.execute(forged_check, sg_profile, sg_target)
    if forged.same_defect_as(result):  # the route is open to anyone: its no-credential check says so once
        pytest.skip(result.final.message)
    sg.attempted(forged_check.id, result)
