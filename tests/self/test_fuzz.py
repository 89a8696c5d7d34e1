"""Units of the fuzz stage: the profile section, strategies, properties, curl reproductions, pacing, budget."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from synthgate.fuzz.engine import FuzzEnv
from synthgate.fuzz.pacing import Budget, Pacer
from synthgate.fuzz.properties import Expectations, violations
from synthgate.fuzz.random_phase import hypothesis_home
from synthgate.fuzz.repro import curl_for, curl_script
from synthgate.fuzz.strategies import UNICODE_SAMPLES, Probe, probes
from synthgate.http import Exchange
from synthgate.profile import ProfileError, load_profile
from synthgate.profile.fuzz import FuzzConfig, FuzzEndpoint, FuzzField
from synthgate.redact import redactor
from synthgate.stage_options import StageOptions

hypothesis_home()  # Hypothesis' caches out of the project, as in the fuzz suite
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

GENERATE = FuzzEndpoint.model_validate({
    "id": "generate", "method": "POST", "path": "/api/generate", "success": [200, 402], "extra_fields": "accept",
    "body": {"companyName": {"min_length": 1, "max_length": 50},
             "problemTheyFace": {"min_length": 10, "max_length": 300},
             "count": {"type": "integer", "minimum": 1, "maximum": 5, "required": False},
             "tone": {"enum": ["Professional", "Direct"]}, "email": {"format": "email"}},
})


def conforms(fields: dict[str, FuzzField], data: Any) -> bool:
    """A reference validator of declared fields (what a strict server accepts)."""
    if not isinstance(data, dict):
        return False
    for name, f in fields.items():
        if name not in data:
            if f.required:
                return False
            continue
        v = data[name]
        if v is None:
            if not f.nullable:
                return False
            continue
        if f.enum is not None and v not in f.enum:
            return False
        if f.type == "string":
            if not isinstance(v, str) or (f.min_length and len(v) < f.min_length):
                return False
            if (f.max_length is not None and len(v) > f.max_length) or (f.format == "email" and not EMAIL.fullmatch(v)):
                return False
        if f.type == "integer" and (not isinstance(v, int) or isinstance(v, bool)):
            return False
        if f.type == "integer" and not (f.minimum or -1e18) <= v <= (f.maximum or 1e18):
            return False
    return True


def collect(endpoint: FuzzEndpoint, n: int = 1200) -> list[Probe]:
    """n generated probes of an endpoint (derandomized: the same ones on every run)."""
    seen: list[Probe] = []

    @settings(max_examples=n, database=None, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(probes(endpoint, huge=20_000))
    def draw(probe: Probe) -> None:
        seen.append(probe)

    draw()
    return seen


@pytest.fixture(scope="module")
def generated() -> list[Probe]:
    return collect(GENERATE)


def test_profile_section_shorthand_and_errors(tmp_path: Path) -> None:
    cfg = FuzzConfig.model_validate({"endpoints": [{"path": "/x", "body": {"a": "integer"}}],
                                     "flows": [{"kind": "quota", "endpoint": "POST /x"}]})
    assert cfg.endpoints[0].body["a"].type == "integer" and cfg.endpoints[0].key == "post-x"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nfuzz:\n  endpoints:\n    - {method: GET, path: '/c/{id}'}\n"
                   "  flows: [{kind: create-read, create: nope, id_field: id, read: '/c/{id}'}]\n")
    with pytest.raises(ProfileError) as err:
        load_profile(str(bad))
    text = str(err.value)
    assert "fuzz.endpoints[0]" in text and "path_params" in text
    bad.write_text("name: bad\nfuzz: {endpoints: [{path: /x, body: {a: {min_length: 5, max_length: 2}}}]}\n")
    with pytest.raises(ProfileError, match="min_length <= max_length"):
        load_profile(str(bad))
    bad.write_text("name: bad\nfuzz: {flows: [{kind: quota, endpoint: nope}]}\n")
    with pytest.raises(ProfileError, match="expected a declared endpoint id"):
        load_profile(str(bad))


def test_bundled_demo_profile_declares_fuzzing() -> None:
    profile, _ = load_profile("demo")
    assert profile.fuzz is not None and profile.fuzz.openapi == "/openapi.json" and profile.fuzz.allow_writes
    assert {f.kind for f in profile.fuzz.flows} == {"quota", "create-read"}


def test_valid_probes_conform_and_invalid_ones_do_not(generated: list[Probe]) -> None:
    for probe in generated:
        if probe.kind == "valid":
            assert conforms(GENERATE.body, probe.data), probe
            assert probe.headers["Content-Type"] == "application/json"
        elif probe.kind == "invalid" and probe.data is not None:
            assert not conforms(GENERATE.body, probe.data), probe


def test_every_kind_of_input_is_generated(generated: list[Probe]) -> None:
    labels = " | ".join(p.label for p in generated)
    kinds = Counter(p.kind for p in generated)
    assert min(kinds.values()) > 60, kinds
    for wanted in ("missing", ": null", "instead of string", "undeclared field", "empty body", "malformed JSON",
                   "instead of an object", "sent as", "characters, above max_length", "not one of the enum",
                   "not an email address", "below minimum", "number at the edge"):
        assert wanted in labels, wanted
    huge = [p for p in generated if "-character" in p.label]
    assert huge and all(len(p.body or b"") >= 20_000 for p in huge)
    assert all(p.kind == "invalid" for p in huge)  # every string field declares a max_length
    unicode = {name for name in UNICODE_SAMPLES for p in generated if p.label.endswith(" string") and name in p.label}
    assert {"CJK", "emoji", "right-to-left", "control characters"} <= unicode, unicode


def test_unicode_bodies_travel_as_utf8_or_escapes(generated: list[Probe]) -> None:
    for probe in generated:
        if probe.data is not None and probe.body is not None and not probe.label.startswith("JSON with"):
            assert json.loads(probe.body.decode("utf-8")) == probe.data


def _exchange(status: int, body: bytes = b'{"error": "x"}', ctype: str = "application/json", ms: float = 5.0,
              method: str = "POST") -> Exchange:
    request = httpx.Request(method, "http://t.invalid/api/x")
    response = httpx.Response(status, headers={"content-type": ctype}, content=body, request=request)
    return Exchange(method=method, url="http://t.invalid/api/x", headers={}, body=None, response=response,
                    duration_ms=ms)


def test_properties() -> None:
    exp = Expectations.of(GENERATE, FuzzConfig(error_fields=["error"]), latency_ms=100)
    assert violations(exp, "valid", _exchange(200, b"{}")) == []
    assert violations(exp, "invalid", _exchange(400)) == []
    assert violations(exp, "edge", _exchange(402)) == []

    def props(kind: str, ex: Exchange) -> set[str]:
        return {v.prop for v in violations(exp, kind, ex)}

    assert props("invalid", _exchange(500, b"oops", "text/plain")) == {"never-5xx"}
    assert props("invalid", _exchange(404)) == {"never-404-on-declared-route"}
    assert props("invalid", _exchange(200, b"{}")) == {"invalid-input-rejected"}
    assert props("valid", _exchange(400)) == {"valid-input-accepted"}
    assert props("invalid", _exchange(400, b"<h1>bad</h1>", "text/html")) == {"json-error-body"}
    assert props("invalid", _exchange(400, b'{"detail": "x"}')) == {"json-error-body"}
    leak = b'{"error": "x", "trace": "Traceback (most recent call last):\\n  File \\"/srv/app/a.py\\", line 1"}'
    assert props("invalid", _exchange(400, leak)) == {"no-leaks"}
    assert props("valid", _exchange(200, b"{}", ms=250)) == {"latency"}
    assert props("invalid", _exchange(429, b"slow down", "text/plain")) == set()  # throttled: no verdict
    missing = Exchange(method="POST", url="http://t.invalid/x", headers={}, body=None, error="refused",
                       error_kind="error")
    assert props("valid", missing) == {"answers"}
    campaign = Expectations.of(FuzzEndpoint(method="GET", path="/c/{id}", path_params={"id": FuzzField()},
                                            success=[200, 404]), FuzzConfig(), 100)
    assert violations(campaign, "valid", _exchange(404, method="GET")) == []


def _bash(command: str) -> bytes:
    return subprocess.run(["bash", "-c", command], capture_output=True, timeout=10, check=True).stdout


def test_curl_reproduces_bodies_byte_for_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    for body in (b'{"a": "\xe6\xbc\xa2\xf0\x9f\x98\x80 \'quoted\' $HOME"}', b'{"a": "\xff\xfe\x00"}', b"\x00\x01%s\\n"):
        ex = Exchange(method="POST", url="http://127.0.0.1:9/api/x", headers={"X-Synthetic-Check": "synthgate"},
                      body=body)
        command = curl_for(ex)
        assert command.count("curl ") == 1 and "X-Synthetic-Check: synthgate" in command
        # swap curl for a command that prints its stdin, or its --data-binary argument
        fake = ("curl() { while [ $# -gt 0 ]; do if [ \"$1\" = --data-binary ]; then "
                "if [ \"$2\" = @- ]; then cat; else printf '%s' \"$2\"; fi; fi; shift; done; }; ")
        assert _bash(fake + command) == body
    no_type = curl_for(Exchange(method="POST", url="http://h/x", headers={}, body=b"{}"))
    assert "-H 'Content-Type:'" in no_type  # curl would otherwise add a form content type
    redactor.add("s3cr3t-token-value", "DEMO_TOKEN")  # the registry's public way in, as the gate registers
    secret = curl_for(Exchange(method="GET", url="http://h/x", headers={"Authorization": "Bearer s3cr3t-token-value"},
                               body=None))
    assert "s3cr3t" not in secret and '"$DEMO_TOKEN"' in secret
    script = curl_script([(1, Exchange(method="GET", url="http://h/a", headers={}, body=None)),
                          (2, Exchange(method="GET", url="http://h/b", headers={}, body=None))])
    assert re.search(r'jar1=\$\(mktemp\).*\n.*-b "\$jar1" -c "\$jar1"\necho\njar2=', script)


def test_pacer_is_shared_across_threads() -> None:
    pacer = Pacer(rps=100)
    started = time.monotonic()
    workers = [threading.Thread(target=lambda: [pacer.wait() for _ in range(10)]) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert time.monotonic() - started >= 0.28  # 30 requests at 100/s, whoever sends them


def test_budget_shares_what_is_left() -> None:
    budget = Budget(total_s=10, tests=4)
    deadline, shrink = budget.next_share()
    assert 2.4 < deadline - time.monotonic() <= 2.5
    assert shrink > deadline
    assert budget.left == 3


class Recorder:
    """What the plugin's `sg` recorder receives."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}

    def set(self, **values: Any) -> None:
        self.fields.update(values)


def test_a_seed_replays_the_same_inputs() -> None:
    profile, _ = load_profile("demo")

    def inputs(seed_value: int) -> list[tuple[str, bytes | None]]:
        env = FuzzEnv(profile, "http://127.0.0.1:9", StageOptions(seed=seed_value), tests_total=1)
        seen: list[tuple[str, bytes | None]] = []

        @env.settings_for(40)
        @given(probes(GENERATE))
        def collect(probe: Probe) -> None:
            env.example()
            seen.append((probe.label, probe.body))

        recorder = Recorder()
        env.run_test("fuzz.generate", collect, recorder)
        env.close()
        assert recorder.fields["details"]["seed"] == seed_value and recorder.fields["details"]["examples"] == 40
        return seen

    first = inputs(5)
    assert inputs(5) == first
    assert inputs(6) != first


def test_stage_options_cross_to_the_child_typed_and_a_misspelled_one_is_refused() -> None:
    """A pure function: the options a stage's pytest child gets (--synthgate-options) carry only what was set, read
    back equal, pin included; an unknown key is an error, never dropped."""
    from pydantic import ValidationError

    from synthgate.version_pin import VersionPin

    pin = VersionPin("v2", {"X-Pin": "v2"}, evidence_header="X-Version")
    options = StageOptions(seed=3, max_time_s=2, pin=pin.to_option())
    assert json.loads(options.to_json()) == {"seed": 3, "max_time_s": 2.0, "pin": {
        "version": "v2", "headers": {"X-Pin": "v2"}, "evidence_header": "X-Version"}}
    again = StageOptions.from_json(options.to_json())
    assert again == options and VersionPin.from_option(again.pin) == pin
    assert StageOptions.from_json("") == StageOptions() and VersionPin.from_option(None) is None
    with pytest.raises(ValidationError, match="sed"):
        StageOptions.from_json('{"sed": 3}')
