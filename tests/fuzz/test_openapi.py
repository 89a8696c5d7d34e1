"""Fuzz the operations of the target's OpenAPI document with Schemathesis and synthgate's own inputs.

Schemathesis' positive and negative cases get its response checks (status, content type, headers and schema
conformance, rejection of schema-invalid data) and synthgate's properties; synthgate's own inputs (huge and
unicode strings, malformed JSON, other content types), built from the document's schemas, get the properties.
"""

from hypothesis import given, reject
from hypothesis import strategies as st

from synthgate.fuzz import coverage, openapi
from synthgate.fuzz.properties import Expectations, Violation, violations
from synthgate.fuzz.strategies import Probe, probes


def test_operation(fuzz_operation, fuzz, sg):
    item = fuzz_operation
    fuzz.admit(item, sg)
    op = item.operation
    exp = Expectations.of(op.endpoint, fuzz.config, fuzz.latency_ms)
    headers = fuzz.endpoint_headers(op.endpoint.headers)

    ours = probes(op.endpoint, fuzz.huge, headers)
    # two parts synthgate's inputs, one part Schemathesis' cases (costlier to draw: a third of the examples)
    @fuzz.settings_for(fuzz.examples_for(op.endpoint.max_examples))
    @given(case=st.one_of(ours, ours, openapi.cases(op)))
    def keeps_properties(case):
        fuzz.example()
        if isinstance(case, Probe):
            ex = fuzz.send(case.method, fuzz.url(case.path), case.headers, case.body, case.query)
            fuzz.expect(violations(exp, case.kind, ex, case.path_mutated), ex, f"({case.kind} input: {case.label})")
            return
        request = openapi.case_request(case, fuzz.base_url + op.base_path)
        if request is None:
            reject()  # not plain HTTP (multipart files): outside what synthgate sends
        probe = openapi.as_probe(case, request)
        method, url, sent_headers, body = request
        ex = fuzz.send(method, url, {**headers, **sent_headers}, body)
        found = violations(exp, probe.kind, ex)
        if ex.response is not None:
            found += [Violation("schemathesis", title)
                      for title in openapi.schemathesis_failures(case, ex.response, sent_headers,
                                                                      fuzz.base_url + op.base_path)]
        fuzz.expect(found, ex, f"({probe.label})")

    def judge(probe, ex):
        return violations(exp, probe.kind, ex, probe.path_mutated)

    # the coverage phase works from the operation's fields as the document declares them
    cover = (coverage.probes(op.endpoint, fuzz.huge, headers), judge)
    fuzz.run_test(item.check_id, keeps_properties, sg, item.round, cover=cover)
