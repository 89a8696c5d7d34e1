"""Where a `--baseline` comes from when there is no shared history: a previous run's reports.

Accepted: a reports folder, a `.zip` or `.tar.gz`/`.tgz` of one (e.g. the CI artifact the last gate uploaded), or
an http(s) URL of such an archive. Downloads are bounded in size and time; archives are unpacked into a temporary
folder without letting any member escape it. The folder holding `verdict.json` (at the top or nested, as CI
artifacts often are) is the baseline.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from synthgate.profile import ProfileError
from synthgate.redact import redactor

MAX_DOWNLOAD_BYTES = 200 * 1024 * 1024  # a reports archive with load samples is a few MB; this bounds a wrong URL
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
DOWNLOAD_TIMEOUT_S = 60.0
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
HEADER_ENV = "SYNTHGATE_BASELINE_HEADER"  # "Name: value" sent with the download, e.g. GitLab's "JOB-TOKEN: ..."


class NoPreviousRun(ProfileError):
    """The URL answered 404: there is no previous run yet (the first pipeline of a project), so no comparison."""


def _error(source: str, what: str) -> ProfileError:
    return ProfileError(redactor(f"--baseline {source}: {what}; expected a previous run's reports folder, a "
                                 ".zip/.tar.gz of one, or an http(s) URL of such an archive"))


def download(url: str, dest: Path, max_bytes: int = MAX_DOWNLOAD_BYTES,
             timeout_s: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Fetch a URL into dest, refusing more than max_bytes; returns dest."""
    import httpx

    headers = {}
    if os.environ.get(HEADER_ENV, "").strip():
        name, _, value = os.environ[HEADER_ENV].partition(":")
        if not value.strip():
            raise _error(url, f"${HEADER_ENV} must look like 'Name: value'")
        redactor.add(value.strip(), HEADER_ENV)  # a token: never in a message
        headers[name.strip()] = value.strip()
    try:
        # httpx drops the header on a redirect to another host (artifact APIs redirect to blob storage)
        with httpx.stream("GET", url, headers=headers, follow_redirects=True, timeout=timeout_s) as reply:
            if reply.status_code == 404:
                raise NoPreviousRun(redactor(f"--baseline {url}: no previous reports there (404)"))
            if reply.status_code != 200:
                raise _error(url, f"download answered {reply.status_code}")
            declared = int(reply.headers.get("content-length") or 0)
            if declared > max_bytes:
                raise _error(url, f"archive of {declared} bytes is over the {max_bytes} byte limit")
            got = 0
            with open(dest, "wb") as out:
                for chunk in reply.iter_bytes():
                    got += len(chunk)
                    if got > max_bytes:
                        raise _error(url, f"download exceeded the {max_bytes} byte limit")
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise _error(url, f"download failed: {exc.__class__.__name__}: {exc}") from None
    return dest


def _kind(name: str) -> str | None:
    lower = name.lower().split("?", 1)[0]
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith((".tar.gz", ".tgz", ".tar")):
        return "tar"
    return None


def unpack(archive: Path, dest: Path, kind: str, source: str) -> None:
    """Unpack a zip or tar archive into dest; members that would land outside dest are refused."""
    root = dest.resolve()
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                total = sum(i.file_size for i in zf.infolist())
                if total > MAX_UNPACKED_BYTES:
                    raise _error(source, f"archive unpacks to {total} bytes, over the limit")
                for info in zf.infolist():
                    target = (dest / info.filename).resolve()
                    if not target.is_relative_to(root):
                        raise _error(source, f"archive member {info.filename!r} points outside the archive")
                zf.extractall(dest)
        else:
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                if sum(m.size for m in members) > MAX_UNPACKED_BYTES:
                    raise _error(source, "archive unpacks to more than the limit")
                # the "data" filter refuses absolute paths, "..", links out of the folder and device files
                tf.extractall(dest, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as exc:
        raise _error(source, f"not a readable {kind} archive ({exc})") from None


def find_reports(folder: Path, source: str) -> Path:
    """The folder with verdict.json: folder itself, else the shallowest one below it."""
    if (folder / "verdict.json").is_file():
        return folder
    found = sorted(folder.rglob("verdict.json"), key=lambda p: (len(p.parts), str(p)))
    if not found:
        raise _error(source, "no verdict.json in it")
    return found[0].parent


def check_local(source: str) -> None:
    """Refuse a --baseline naming a local path that does not exist, before any stage runs (a URL is tried when
    it is needed: the first pipeline of a project has no previous run to download)."""
    if source in ("none", "last-pass") or source.startswith(("http://", "https://")):
        return
    if not Path(os.path.expanduser(source)).exists():
        raise _error(source, "not found")


@contextmanager
def reports_folder(source: str) -> Iterator[Path]:
    """The previous run's reports folder named by a --baseline value (unpacked or downloaded as needed)."""
    if source.startswith(("http://", "https://")):
        kind = _kind(source) or "zip"
        with tempfile.TemporaryDirectory(prefix="synthgate-baseline-") as tmp:
            archive = download(source, Path(tmp) / f"reports.{'zip' if kind == 'zip' else 'tar.gz'}")
            # the URL may not say what it is (an artifact API): trust the bytes over the name
            kind = "zip" if zipfile.is_zipfile(archive) else "tar"
            unpack(archive, Path(tmp) / "out", kind, source)
            yield find_reports(Path(tmp) / "out", source)
        return
    path = Path(os.path.expanduser(source))
    if path.is_dir():
        yield find_reports(path, source)
        return
    if not path.exists():
        raise _error(source, "not found")
    kind = _kind(path.name) or ("zip" if zipfile.is_zipfile(path) else "tar")
    with tempfile.TemporaryDirectory(prefix="synthgate-baseline-") as tmp:
        unpack(path, Path(tmp), kind, source)
        yield find_reports(Path(tmp), source)
