"""Fuzz rules a real API can meet: per-parameter leniency (`blank`, `missing`, `also_valid`), flows that send the
endpoint's headers (and their own) on every request, basic auth from secrets; and the profile fields that come
with them: route `id:`, duplicate check ids as a validate error, `text`/`not_text` as a string or a list."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from loopback import serve_handler

from synthgate.checks import registry, smoke
from synthgate.fuzz.strategies import lenient
from synthgate.gate import GateOptions, run_gate
from synthgate.profile import ProfileError, load_profile
from synthgate.profile.fuzz import FuzzField
from synthgate.profile.model import Profile

USER, PASSWORD = "reader", "s3cret-pass-42"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


class RowsApi(BaseHTTPRequestHandler):
    """Like a data API people run: a blank `_sort` means the default order, `_size=0` means the default page size,
    a missing `_shape` means `objects`; everything wants basic auth; reads of items want the tenant header."""

    protocol_version = "HTTP/1.1"
    items: dict[str, Any] = {}
    reads_without_tenant = 0

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _rows(self, query: dict[str, list[str]]) -> None:
        sort = query.get("_sort", [""])[0]
        size = query.get("_size", ["10"])[0]
        shape = query.get("_shape", ["objects"])[0]
        if len(sort) > 20 or shape not in ("objects", "arrays"):
            return self._send(400, {"error": "bad parameter"})
        if not size.isdigit() or int(size) > 100:
            return self._send(400, {"error": "_size must be 1..100"})
        return self._send(200, {"rows": [], "size": int(size) or 10})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlsplit(self.path)
        if self.headers.get("Authorization") != BASIC:
            return self._send(401, {"error": "authentication required"})
        if url.path == "/rows":
            return self._rows(parse_qs(url.query, keep_blank_values=True))
        if url.path.startswith("/items/"):
            if self.headers.get("X-Tenant") != "t1":
                type(self).reads_without_tenant += 1
                return self._send(400, {"error": "X-Tenant missing"})
            item = self.items.get(url.path.removeprefix("/items/"))
            return self._send(200, item) if item is not None else self._send(404, {"error": "not found"})
        return self._send(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.headers.get("Authorization") != BASIC:
            return self._send(401, {"error": "authentication required"})
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            return self._send(400, {"error": "not JSON"})
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not 1 <= len(name) <= 20:
            return self._send(400, {"error": "name: 1..20 characters"})
        new_id = uuid.uuid4().hex
        self.items[new_id] = {"id": new_id, "name": name}
        return self._send(201, {"id": new_id})

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def rows_api() -> Iterator[str]:
    with serve_handler(RowsApi) as url:
        yield url


def _profile(tmp_path: Path, leniency: bool) -> Path:
    rows = {"_sort": {"type": "string", "min_length": 1, "max_length": 20, "required": False},
            "_size": {"type": "integer", "minimum": 1, "maximum": 100, "required": False},
            "_shape": {"type": "string", "enum": ["objects", "arrays"]}}
    if leniency:
        rows["_sort"]["blank"] = "accept"
        rows["_size"]["also_valid"] = [0]
        rows["_shape"]["missing"] = "accept"
    auth = {"Authorization": "${auth.authorization}"}
    data = {
        "name": "lenient",
        "secrets": {"api_user": {"env": "LENIENT_USER", "required": True},
                    "api_password": {"env": "LENIENT_PASSWORD", "required": True}},
        "auth": {"basic": {"username": "${secrets.api_user}", "password": "${secrets.api_password}"}},
        "fuzz": {"allow_writes": True, "max_examples": 30, "max_time_s": 25, "seed": 7, "max_rps": 200,
                 "endpoints": [
                     {"id": "rows", "method": "GET", "path": "/rows", "query": rows, "headers": auth,
                      "invalid": [400]},
                     {"id": "create", "method": "POST", "path": "/items", "headers": auth, "success": [201],
                      "invalid": [400], "body": {"name": {"type": "string", "min_length": 1, "max_length": 20}}}],
                 "flows": [{"kind": "create-read", "create": "create", "id_field": "id", "read": "/items/{id}",
                            "headers": {"X-Tenant": "t1"}, "max_examples": 5}]},
    }
    path = tmp_path / f"lenient-{leniency}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _fuzz(profile: Path, url: str, reports: Path) -> dict[str, Any]:
    verdict = run_gate(GateOptions(profile=str(profile), base_url=url, stages=["fuzz"], reports_dir=reports,
                                   no_rollback=True, baseline="none", history_db=reports.parent / f"{reports.name}.db",
                                   progress=lambda _: None))
    return {c.id: c for s in verdict.stages if s.name == "fuzz" for c in s.checks}


def test_leniency_the_app_has_is_declared_per_parameter(tmp_path: Path, rows_api: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENIENT_USER", USER)
    monkeypatch.setenv("LENIENT_PASSWORD", PASSWORD)
    strict = _fuzz(_profile(tmp_path, leniency=False), rows_api, tmp_path / "strict")
    assert strict["fuzz.rows"].status == "failed"
    message = strict["fuzz.rows"].message
    # each leniency of the app, as the strict declaration sees it: invalid input that got a success
    assert "_sort: 0 characters, below min_length" in message and "_size: below minimum" in message
    assert "_shape missing" in message

    lenient_run = _fuzz(_profile(tmp_path, leniency=True), rows_api, tmp_path / "lenient")
    assert lenient_run["fuzz.rows"].status == "passed", lenient_run["fuzz.rows"].message
    assert lenient_run["fuzz.create"].status == "passed", lenient_run["fuzz.create"].message
    # every read of the flow carried the endpoint's basic auth and the flow's own header
    flow = lenient_run["fuzz.flow.create-read-create"]
    assert flow.status == "passed", flow.message
    assert RowsApi.items and RowsApi.reads_without_tenant == 0
    report = (tmp_path / "lenient" / "verdict.json").read_text()
    assert PASSWORD not in report and BASIC.split()[1] not in report  # the basic-auth secret never reaches a report


def test_lenient_reclassifies_only_what_it_names() -> None:
    field = FuzzField(type="integer", minimum=1, blank="any", missing="accept", also_valid=["max"])
    assert lenient(field, "invalid", "") == "edge" and lenient(field, "invalid", "   ") == "edge"
    assert lenient(field, "invalid", "max") == "valid" and lenient(field, "invalid", "abc") == "invalid"
    assert lenient(field, "invalid", None, missing=True) == "valid"
    assert lenient(FuzzField(type="integer"), "invalid", "") == "invalid"  # no leniency declared: as before


def test_route_ids_and_duplicate_check_ids(tmp_path: Path) -> None:
    same = tmp_path / "same.yaml"
    same.write_text("name: x\nroutes:\n  - {method: GET, path: /a}\n  - {method: GET, path: /a}\n")
    with pytest.raises(ProfileError) as raised:
        load_profile(str(same))
    assert "same.yaml:2:1: routes:" in str(raised.value) and "routes[1]" in str(raised.value)
    same.write_text("name: x\nroutes:\n  - {method: GET, path: /a}\n  - {id: a-with-auth, method: GET, path: /a,"
                    " headers: {Authorization: x}}\n")
    profile, _ = load_profile(str(same))
    assert [c.id for c in registry.checks(profile, probed=True)] [:2] == ["route-exists:GET /a", "a-with-auth"]
    clash = tmp_path / "clash.yaml"
    clash.write_text("name: x\nhealth: {id: up, path: /h}\nchecks:\n  - {id: up, request: {path: /u}}\n")
    with pytest.raises(ProfileError) as raised:
        load_profile(str(clash))
    assert "checks[0].id is 'up', as health.id is" in str(raised.value)


def test_text_and_not_text_take_a_string_or_a_list(rows_api: str) -> None:
    def outcome(expect: dict[str, Any]) -> str:
        profile = Profile.model_validate({"name": "t", "headers": {"Authorization": BASIC},
                                          "defaults": {"retries": 0},
                                          "checks": [{"id": "rows", "request": {"path": "/rows"}, "expect": expect}]})
        check = next(c for c in registry.checks(profile, probed=True) if c.id == "rows")
        result = smoke.execute(check, profile, rows_api).final
        return "ok" if result.ok else result.message

    assert outcome({"text": "rows", "not_text": "Traceback"}) == "ok"
    assert outcome({"text": ["rows", "size"], "not_text": ["Traceback", "error"]}) == "ok"
    assert "does not contain 'nope'" in outcome({"text": ["rows", "nope"]})
    assert outcome({"not_text": "rows"}) != "ok" and outcome({"not_text": ["x", "size"]}) != "ok"
