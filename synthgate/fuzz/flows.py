"""Stateful properties as Hypothesis rule-based state machines, built from the profile's declared flows.

A session is a client with its own cookie jar. Each machine keeps the requests it sent, so a failure is
reported with a shell script that replays the (shrunk) sequence with curl and one cookie jar per session.
"""

from __future__ import annotations

import contextlib
import json
import string
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, rule

from synthgate.bounded import response_json
from synthgate.checks.expect import MISSING, lookup
from synthgate.fuzz.engine import FuzzEnv
from synthgate.fuzz.properties import Expectations, Violation, violations
from synthgate.fuzz.repro import curl_script
from synthgate.fuzz.strategies import Probe, dump_json
from synthgate.http import Exchange, expand
from synthgate.profile.fuzz import SAFE_METHODS, CreateReadFlow, FuzzEndpoint, QuotaFlow


def dotted(data: Any, path: str) -> Any:
    """The value at a dotted path of parsed JSON ("" is the whole document); KeyError when absent."""
    if not path:
        return data
    value = lookup(data, path)
    if value is MISSING:
        raise KeyError(path)
    return value


def _json(ex: Exchange) -> Any:
    try:
        return response_json(ex.response) if ex.response is not None else None
    except ValueError:
        return None


class _Machine(RuleBasedStateMachine):
    """Sessions, the replay log, and the generic properties every flow response keeps."""

    env: FuzzEnv
    exp: Expectations
    headers: dict[str, str] = {}  # noqa: RUF012 - set per machine class: the endpoint's and the flow's headers

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[int, httpx.Cookies] = {}
        self.steps: list[tuple[int, Exchange]] = []

    def new_session(self) -> int:
        number = len(self.sessions) + 1
        self.sessions[number] = self.env.new_session()
        return number

    def send(self, session: int, method: str, path: str, probe: Probe | None = None) -> Exchange:
        headers = {**self.headers, **(probe.headers if probe else {})}
        ex = self.env.send(method, self.env.url(path), headers, probe.body if probe else None,
                           probe.query if probe else None, session=self.sessions[session])
        self.steps.append((session, ex))
        return ex

    def check(self, ex: Exchange, extra: list[Violation], what: str) -> None:
        found = violations(self.exp, "edge", ex) + extra
        self.env.expect(found, ex, what, curl=curl_script(self.steps))


def fixed_probe(endpoint: FuzzEndpoint, body: Any, env: FuzzEnv,
                headers: dict[str, str] | None = None) -> st.SearchStrategy[Probe]:
    """A flow request with the profile's fixed body ($var references expanded)."""
    value = expand(body, env.profile)
    headers = {**(headers if headers is not None else expand(endpoint.headers, env.profile)),
               "Content-Type": "application/json"}
    return st.just(Probe(kind="valid", label="the profile's valid body", method=endpoint.method, path=endpoint.path,
                         headers=headers, body=dump_json(value), data=value))


def quota_machine(env: FuzzEnv, flow: QuotaFlow, endpoint: FuzzEndpoint, requests: st.SearchStrategy[Probe],
                  headers: dict[str, str] | None = None) -> type[RuleBasedStateMachine]:
    """Per-session quota: the first `limit` valid requests of a session succeed, later ones are refused."""
    within, over = frozenset(flow.within_limit), frozenset(flow.over_limit)
    base = Expectations.of(endpoint, env.config, env.latency_ms)
    exp = Expectations(success=within | over, invalid=base.invalid, error_content_type=base.error_content_type,
                       error_fields=base.error_fields, latency_ms=base.latency_ms, not_found_ok=base.not_found_ok)

    sent_headers = dict(headers or {})

    class QuotaFlowMachine(_Machine):
        sessions = Bundle("sessions")
        headers = sent_headers

        def __init__(self) -> None:
            super().__init__()
            self.env, self.exp = env, exp
            self.used: dict[int, int] = {}

        @initialize(target=sessions)
        def first_session(self) -> int:
            env.example()
            return self.fresh_session()

        @rule(target=sessions)
        def fresh_session(self) -> int:
            number = self.new_session()
            self.used[number] = 0
            return number

        @rule(session=sessions, probe=requests)
        def use(self, session: int, probe: Probe) -> None:
            ex = self.send(session, probe.method, probe.path, probe)
            used = self.used[session]
            expected = within if used < flow.limit else over
            extra: list[Violation] = []
            if ex.status is not None and ex.status not in expected:
                extra.append(Violation("quota", f"valid request {used + 1} of session {session} answered {ex.status}, "
                                       f"expected {sorted(expected)} ({flow.limit} allowed per session)"))
            if ex.status in within:
                self.used[session] = used + 1
            self.check(ex, extra, f"(valid request {used + 1} of session {session})")

    return QuotaFlowMachine


def create_read_machine(env: FuzzEnv, flow: CreateReadFlow, endpoint: FuzzEndpoint, creates: st.SearchStrategy[Probe],
                        headers: dict[str, str] | None = None) -> type[RuleBasedStateMachine]:
    """Create-then-read; without allow_writes only the read of unknown ids runs."""
    base = Expectations.of(endpoint, env.config, env.latency_ms)
    exp = Expectations(success=frozenset(flow.created) | frozenset(flow.found) | frozenset(flow.missing),
                       invalid=base.invalid, error_content_type=base.error_content_type,
                       error_fields=base.error_fields, latency_ms=base.latency_ms, not_found_ok=True)
    unknown_ids = st.text(alphabet=string.ascii_lowercase + string.digits + "-_", min_size=1, max_size=24)

    def read_path(resource_id: str) -> str:
        return flow.read.replace("{id}", quote(resource_id, safe=""))

    sent_headers = dict(headers or {})

    class ReadUnknownMachine(_Machine):
        created = Bundle("created")
        headers = sent_headers

        def __init__(self) -> None:
            super().__init__()
            self.env, self.exp = env, exp

        @initialize()
        def start(self) -> None:
            env.example()
            self.new_session()

        @rule(suffix=unknown_ids)
        def read_unknown(self, suffix: str) -> None:
            ex = self.send(1, "GET", read_path(flow.unknown_prefix + suffix))
            extra = []
            if ex.status is not None and ex.status not in flow.missing:
                extra.append(Violation("unknown-id-not-found", f"an unknown id answered {ex.status}, "
                                       f"expected {sorted(flow.missing)}"))
            self.check(ex, extra, "(read of an unknown id)")

    if not env.allow_writes or endpoint.method in SAFE_METHODS:
        return ReadUnknownMachine

    class CreateReadFlowMachine(ReadUnknownMachine):
        @rule(target=ReadUnknownMachine.created, probe=creates)
        def create(self, probe: Probe) -> tuple[str, Any]:
            ex = self.send(1, probe.method, probe.path, probe)
            extra = []
            new_id: Any = None
            if ex.status is not None and ex.status not in flow.created:
                extra.append(Violation("create-accepted",
                                       f"creating answered {ex.status}, expected {sorted(flow.created)}"))
            else:
                with contextlib.suppress(KeyError):
                    new_id = dotted(_json(ex), flow.id_field)
                if not isinstance(new_id, str | int) or isinstance(new_id, bool) or new_id == "":
                    extra.append(Violation("create-returns-id", f"no id at {flow.id_field!r} in the answer"))
            self.check(ex, extra, "(create)")
            return str(new_id), probe.data

        @rule(item=ReadUnknownMachine.created)
        def read_back(self, item: tuple[str, Any]) -> None:
            resource_id, sent = item
            ex = self.send(1, "GET", read_path(resource_id))
            extra = []
            if ex.status is not None and ex.status not in flow.found:
                extra.append(Violation("created-is-readable", f"reading {resource_id!r} answered {ex.status}, "
                                       f"expected {sorted(flow.found)}"))
            else:
                extra += _compare(sent, _json(ex), flow.data_field)
            self.check(ex, extra, "(read back)")

    return CreateReadFlowMachine


def _compare(sent: Any, document: Any, data_field: str) -> list[Violation]:
    """Every sent member must read back with the same value."""
    try:
        stored = dotted(document, data_field)
    except KeyError:
        return [Violation("reads-back-same-data", f"no {data_field!r} in the read answer")]
    if not isinstance(sent, dict):
        return []
    if not isinstance(stored, dict):
        return [Violation("reads-back-same-data", f"{data_field or 'the answer'} is not an object")]
    out = []
    for key, value in sent.items():
        if stored.get(key) != value:
            got = json.dumps(stored.get(key), ensure_ascii=False)[:80]
            out.append(Violation("reads-back-same-data", f"{key} reads back as {got}, sent "
                                 f"{json.dumps(value, ensure_ascii=False)[:80]}"))
    return out
