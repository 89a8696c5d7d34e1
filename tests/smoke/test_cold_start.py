"""Cold starts: the first request to each endpoint in the run, judged by its own budget (`cold_budget_ms`).

These run first in the smoke suite (see conftest.py), so each one is the first contact with its endpoint unless
the gate's preflight already made it; the warm checks after them are judged by the warm latency budget.
"""

import pytest

from synthgate.checks import cold


def test_cold_start(cold_endpoint, cold_ledger, sg_profile, sg_target, sg, sg_reports_dir):
    result, fields = cold.check(cold_endpoint, sg_profile, sg_target, sg_reports_dir)
    sg.set(**fields)
    if result.status == "skipped":
        pytest.skip(result.message)
    if result.status == "failed":
        pytest.fail(result.message, pytrace=False)
