"""--baseline from a previous run's reports on ephemeral CI: a folder, a .zip/.tar.gz, or an http(s) URL of one."""

from __future__ import annotations

import json
import shutil
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from verdicts import read_verdict

from synthgate.baseline_source import download, reports_folder
from synthgate.profile import ProfileError


def _reports(root: Path) -> Path:
    """A CI artifact layout: the reports nested one folder down."""
    folder = root / "artifact" / "reports"
    (folder / "load").mkdir(parents=True)
    (folder / "verdict.json").write_text('{"verdict": "pass"}')
    (folder / "load" / "samples.json").write_text('{"samples_ms": {"GET /": [1.0]}}')
    return folder


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[str]:
    """A loopback web server over tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(www)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_folder_zip_tar_and_url_all_lead_to_the_verdict(tmp_path: Path, served: str) -> None:
    folder = _reports(tmp_path)
    www = tmp_path / "www"
    shutil.make_archive(str(www / "reports"), "zip", tmp_path / "artifact")
    shutil.make_archive(str(www / "reports"), "gztar", tmp_path / "artifact")
    shutil.copy(www / "reports.zip", www / "download")  # an artifact URL that does not name its format
    for source in (str(tmp_path / "artifact"), str(www / "reports.zip"), str(www / "reports.tar.gz"),
                   f"{served}/reports.zip", f"{served}/reports.tar.gz", f"{served}/download"):
        with reports_folder(source) as found:
            assert json.loads((found / "verdict.json").read_text()) == {"verdict": "pass"}, source
            assert (found / "load" / "samples.json").is_file(), source
    with reports_folder(str(folder)) as found:
        assert found == folder


def test_bad_sources_are_clear_usage_errors(tmp_path: Path, served: str) -> None:
    (tmp_path / "www" / "junk.zip").write_bytes(b"not an archive")
    (tmp_path / "empty").mkdir()
    evil = tmp_path / "www" / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../outside.txt", "x")
        zf.writestr("verdict.json", "{}")
    for source, expected in ((str(tmp_path / "nope"), "not found"), (str(tmp_path / "empty"), "no verdict.json"),
                             (str(tmp_path / "www" / "junk.zip"), "not a readable zip archive"),
                             (str(evil), "points outside the archive"),
                             (f"{served}/missing.zip", "no previous reports there"),
                             ("http://127.0.0.1:1/r.zip", "download failed")):
        with pytest.raises(ProfileError, match=expected), reports_folder(source):
            pass
    assert not (tmp_path / "outside.txt").exists()


def test_tar_members_cannot_escape(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    payload = tmp_path / "p.txt"
    payload.write_text("x")
    with tarfile.open(bad, "w:gz") as tf:
        tf.add(payload, arcname="../escaped.txt")
    with pytest.raises(ProfileError, match="not a readable tar archive"), reports_folder(str(bad)):
        pass


def test_the_download_can_carry_a_token_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GitLab's artifact API wants JOB-TOKEN: $SYNTHGATE_BASELINE_HEADER sends it (and nothing prints it)."""
    import io
    import zipfile as zf_mod

    _reports(tmp_path)
    buf = io.BytesIO()
    with zf_mod.ZipFile(buf, "w") as zf:
        zf.write(tmp_path / "artifact" / "reports" / "verdict.json", "verdict.json")
    seen: list[str | None] = []

    class Guarded(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            seen.append(self.headers.get("JOB-TOKEN"))
            ok = self.headers.get("JOB-TOKEN") == "tok-12345678"
            self.send_response(200 if ok else 401)
            body = buf.getvalue() if ok else b"no"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Guarded)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/api/jobs/artifacts/main/download?job=gate"
    try:
        with pytest.raises(ProfileError, match="answered 401"), reports_folder(url):
            pass
        monkeypatch.setenv("SYNTHGATE_BASELINE_HEADER", "JOB-TOKEN: tok-12345678")
        with reports_folder(url) as found:
            assert (found / "verdict.json").is_file()
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [None, "tok-12345678"]


def test_downloads_are_bounded(tmp_path: Path, served: str) -> None:
    (tmp_path / "www" / "big.zip").write_bytes(b"0" * 50_000)
    with pytest.raises(ProfileError, match="over the 10000 byte limit"):
        download(f"{served}/big.zip", tmp_path / "x", max_bytes=10_000)


def test_a_gate_compares_with_the_zipped_reports_of_the_last_run(tmp_path: Path, cli: Any) -> None:
    first = cli("run", "--stages", "smoke", "--baseline", "none", "--no-rollback", "--reports", str(tmp_path / "r1"))
    assert first.returncode == 0, first.stdout + first.stderr
    archive = shutil.make_archive(str(tmp_path / "previous"), "zip", tmp_path, "r1")
    second = cli("run", "--stages", "smoke", "--baseline", archive, "--no-rollback", "--db", str(tmp_path / "new.db"),
                 "--reports", str(tmp_path / "r2"))
    assert second.returncode == 0, second.stdout + second.stderr
    baseline = read_verdict(tmp_path / "r2")["baseline"]
    assert baseline["source"] == f"saved run {archive}"


def test_a_baseline_naming_nothing_is_refused_before_any_stage_runs(tmp_path: Path, cli_in_process: Any) -> None:
    wrong = cli_in_process("run", "--stages", "smoke", "--baseline", str(tmp_path / "missing.zip"), "--no-rollback",
                           "--reports", str(tmp_path / "r3"))
    assert wrong.returncode == 2 and "missing.zip: not found" in wrong.stderr and "Traceback" not in wrong.stderr
    assert "stage smoke" not in wrong.stdout + wrong.stderr and not (tmp_path / "r3" / "verdict.json").exists()
