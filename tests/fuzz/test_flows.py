"""Stateful properties of the profile's flows, as Hypothesis rule-based state machines.

quota: in each session the first `limit` valid requests succeed and every later one is refused; a fresh
session gets its allowance again. create-read: a created resource reads back with the same data, an unknown
id answers 404. Failures shrink to the shortest sequence and come with a curl script replaying it.
"""

from hypothesis.stateful import get_state_machine_test

from synthgate.fuzz.flows import create_read_machine, fixed_probe, quota_machine
from synthgate.fuzz.strategies import valid_probes
from synthgate.profile.fuzz import QuotaFlow


def test_flow(fuzz_flow, fuzz, sg):
    item = fuzz_flow
    fuzz.admit(item, sg)
    flow, endpoint = item.flow, item.endpoint
    # every request of the flow, reads included, carries the endpoint's headers and the flow's own
    headers = fuzz.endpoint_headers({**endpoint.headers, **flow.headers})
    if isinstance(flow, QuotaFlow):
        requests = (fixed_probe(endpoint, flow.body, fuzz, headers) if flow.body is not None
                    else valid_probes(endpoint, headers))
        machine = quota_machine(fuzz, flow, endpoint, requests, headers)
    else:
        machine = create_read_machine(fuzz, flow, endpoint, valid_probes(endpoint, headers), headers)
    programs = flow.max_examples or max(10, fuzz.examples_for(None) // 4)
    test = get_state_machine_test(machine, settings=fuzz.settings_for(programs, flow.steps))
    fuzz.run_test(item.check_id, test, sg, item.round)
