"""Loading profiles: YAML parsing and validation with errors that name file, field and expectation."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from synthgate.bundled import targets_dir
from synthgate.fuzz.local_spec import is_local as is_local_spec  # a profile-level helper kept beside the fuzzer
from synthgate.fuzz.local_spec import resolve as resolve_local_spec
from synthgate.profile import safe_yaml
from synthgate.profile.locate import compose, locate, yaml_path
from synthgate.profile.model import Profile
from synthgate.profile.schema import suggest  # builds the schema: only when a field is unknown
from synthgate.redact import redactor

BUNDLED_DIR = targets_dir()  # inside the package (wheel), or the checkout's targets/ (editable install)


class ProfileError(Exception):
    """A profile that cannot be used; the message is meant for the user as is."""


def bundled_dir() -> Path:
    """Where the bundled profiles live (SYNTHGATE_TARGETS overrides)."""
    return Path(os.environ.get("SYNTHGATE_TARGETS") or BUNDLED_DIR)  # set but empty: the bundled ones


def bundled_names() -> list[str]:
    """Names of the bundled profiles."""
    return sorted(p.stem for p in bundled_dir().glob("*.yaml"))


def resolve_profile_path(spec: str) -> Path:
    """A profile path from a path or the name of a bundled profile."""
    path = Path(spec)
    if path.suffix in (".yaml", ".yml") or os.sep in spec or path.exists():
        return path
    candidate = bundled_dir() / f"{spec}.yaml"
    if candidate.exists():
        return candidate
    raise ProfileError(
        f"{spec}: not found: no such file, and no bundled profile of that name "
        f"(bundled: {', '.join(bundled_names()) or 'none'})"
    )


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _describe(error: dict[str, Any]) -> str:
    kind = error["type"]
    got = error.get("input")
    if kind == "extra_forbidden":
        return "unknown field (expected one of the documented fields; check the spelling)"
    if kind == "missing":
        return "required field is missing"
    msg = str(error["msg"]).removeprefix("Value error, ")
    shown = repr(got)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{msg} (got {shown})" if "got" not in msg else msg


def _did_you_mean(error: Any) -> str:
    if error["type"] != "extra_forbidden" or not error["loc"]:
        return ""

    close = suggest(str(error["loc"][-1]))
    return f"; did you mean '{close}'?" if close else ""


def format_validation_error(path: Path, exc: ValidationError, text: str | None = None) -> str:
    """One readable message naming file (with line:column when the YAML text is given), each field path and
    what was expected."""
    root = compose(text) if text is not None else None
    lines = [f"{path}: invalid profile ({exc.error_count()} problem(s)):"]
    # in file order, so a reader fixes them top to bottom
    for error in sorted(exc.errors(), key=lambda e: locate(root, tuple(e["loc"])) or (0, 0)):
        where = locate(root, tuple(error["loc"]))
        at = f"{path}:{where[0]}:{where[1]}" if where else str(path)
        lines.append(f"  {at}: {_field_path(yaml_path(root, tuple(error['loc'])))}: {_describe(error)}"  # type: ignore[arg-type]
                     + _did_you_mean(error))
    return "\n".join(lines)


def _yaml11_keys(data: Any) -> Any:
    """YAML 1.1 reads a bare `on:` key as True; the profile means the word (e.g. rollback.on)."""
    if isinstance(data, dict):
        return {("on" if k is True else "off" if k is False else k): _yaml11_keys(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_yaml11_keys(v) for v in data]
    return data


_NOT_REGULAR = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


def _require_regular_file(path: Path) -> None:
    """ProfileError unless `path` is a regular file, decided by os.stat without opening it: reading a FIFO
    nobody writes, or a device, would block the gate before any output."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ProfileError(f"{path}: profile not found: no such file") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read profile: {exc.strerror or exc}") from None
    if stat.S_ISREG(mode):
        return
    what = next((name for test, name in _NOT_REGULAR if test(mode)), "not a regular file")
    raise ProfileError(f"{path}: cannot read profile: is {what} (expected a regular YAML file)")


def load_profile(spec: str) -> tuple[Profile, Path]:
    """Load and validate a profile from a path or bundled name."""
    path = resolve_profile_path(spec)
    _require_regular_file(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(f"{path}: profile not found: no such file") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path}: not a text file: a profile is UTF-8 YAML (byte {exc.start} is not UTF-8)"
                           ) from None
    except IsADirectoryError:
        raise ProfileError(f"{path}: cannot read profile: is a directory (expected a YAML file)") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read profile: {exc.strerror or exc}") from None
    if "\x00" in text:
        raise ProfileError(f"{path}: not a text file (it contains NUL bytes): a profile is UTF-8 YAML") from None
    try:
        data = safe_yaml.load(text)
    except safe_yaml.YamlLimitError as exc:
        raise ProfileError(f"{path}: profile refused: {exc}") from None
    except RecursionError:
        raise ProfileError(f"{path}: profile refused: nested too deeply") from None
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProfileError(f"{path}: invalid YAML{where}: {problem} (YAML parsing failed)") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: (top level): expected a mapping of profile fields, got {type(data).__name__}")
    try:
        profile = Profile.model_validate(_yaml11_keys(data))
    except ValidationError as exc:
        raise ProfileError(format_validation_error(path, exc, text)) from None
    _local_openapi(profile, path)
    return profile, path.resolve()


def _local_openapi(profile: Profile, path: Path) -> None:
    """fuzz.openapi naming a spec file: a file:// URL, relative to the profile's folder (fuzz.local_spec)."""
    if profile.fuzz is not None and profile.fuzz.openapi and is_local_spec(profile.fuzz.openapi):
        profile.fuzz.openapi = resolve_local_spec(profile.fuzz.openapi, path.resolve().parent)


DEFAULT_PROFILE_FILE = "synthgate.yaml"


def default_profile() -> str:
    """`./synthgate.yaml` when the working directory has one, else the bundled demo profile."""
    return DEFAULT_PROFILE_FILE if Path(DEFAULT_PROFILE_FILE).is_file() else "demo"


def resolve_base_url(cli_url: str | None, profile: Profile) -> tuple[str | None, str]:
    """The base URL and where it came from: --base-url, SYNTHGATE_BASE_URL, API_URL, then the profile."""
    for value, source in (
        (cli_url, "--base-url"),
        (os.environ.get("SYNTHGATE_BASE_URL"), "SYNTHGATE_BASE_URL"),
        (os.environ.get("API_URL"), "API_URL"),
        (profile.base_url, "profile"),
    ):
        if value is not None and not value.strip():  # a CI variable that is set but empty: never fall through
            raise ProfileError(f"{source}: set but empty: expected an http:// or https:// URL (an unset CI "
                               "variable? pass a URL, or unset it to use the next source)")
        if value:
            value = value.strip()
            if not value.startswith(("http://", "https://")):
                raise ProfileError(f"{source}: expected an http:// or https:// URL, got {value!r}")
            redactor.add_url(value)  # a password in the URL is a secret from now on, in every process
            return value.rstrip("/"), source
    return None, "none"
