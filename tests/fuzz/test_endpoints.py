"""Fuzz every declared endpoint: a coverage phase (each boundary and class of every field once), then generated
valid, invalid and unusual inputs; every answer must keep the API's properties.

Properties (synthgate.fuzz.properties): never a 5xx; never a 404 on a declared route; valid input gets one of
the declared success statuses; invalid input a 4xx with a JSON error body of the declared content type; no
stack trace, internal path or secret in any body; every answer within the latency bound.
"""

from hypothesis import given

from synthgate.fuzz import coverage
from synthgate.fuzz.properties import Expectations, violations
from synthgate.fuzz.strategies import probes


def test_endpoint(fuzz_endpoint, fuzz, sg):
    item = fuzz_endpoint
    fuzz.admit(item, sg)
    endpoint = item.endpoint
    exp = Expectations.of(endpoint, fuzz.config, fuzz.latency_ms)
    headers = fuzz.endpoint_headers(endpoint.headers)

    @fuzz.settings_for(fuzz.examples_for(endpoint.max_examples))
    @given(probe=probes(endpoint, fuzz.huge, headers))
    def keeps_properties(probe):
        fuzz.example()
        ex = fuzz.send(probe.method, fuzz.url(probe.path), probe.headers, probe.body, probe.query)
        fuzz.expect(violations(exp, probe.kind, ex, probe.path_mutated), ex, f"({probe.kind} input: {probe.label})")

    def judge(probe, ex):
        return violations(exp, probe.kind, ex, probe.path_mutated)

    # first every boundary and class of every field once (concurrently), then random inputs in the time left
    cover = (coverage.probes(endpoint, fuzz.huge, headers), judge)
    fuzz.run_test(item.check_id, keeps_properties, sg, item.round, cover=cover)
