"""The one secret registry: every report writer, log line and console message passes through it.

It learns at run time: besides the profile's secrets it registers the credentials of Authorization and Cookie
headers, the userinfo of every URL, every Set-Cookie value received and every value saved from a response.
Stages run in child processes, so the registry is shared through a file (named in the run context, in a private
temporary folder outside the reports): every process appends what it learns and reads what the others learned
before it redacts, so a cookie learned in the smoke child is redacted by the gate's report writers too.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import html
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

from synthgate import run_context
from synthgate.appended import lines_since

if TYPE_CHECKING:
    from synthgate.profile.model import Profile

# Header values that are secret whatever the profile says.
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}")
MIN_SECRET = 4  # a declared secret shorter than this would redact noise
MIN_LEARNED = 8  # a value learned from traffic (a cookie, a saved field) must look like a credential


def env_name(text: str) -> str:
    """A shell variable name for a learned secret (curl repros reference it as "$NAME")."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text).upper().strip("_") or "SECRET"
    return name if not name[0].isdigit() else f"_{name}"


def forms(value: str) -> set[str]:
    """A secret as it may appear in text: raw, JSON-, URL- and HTML-escaped."""
    out = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1], quote(value, safe=""),
           quote_plus(value), html.escape(value), html.escape(value, quote=False)}
    return {f for f in out if f}


class Redactor:
    """Replaces every registered secret value with a placeholder naming its environment variable."""

    def __init__(self) -> None:
        self._secrets: dict[str, str] = {}  # value -> env var name
        self._pattern: re.Pattern[str] | None = None
        self._lookup: dict[str, str] = {}  # each form -> env var name
        # forms registered since `_pattern` was compiled: a text none of them occurs in is redacted by the old
        # pattern exactly as by a new one, so a run that learns a cookie per request does not recompile per request
        self._pending: set[str] = set()
        self._learned: set[str] = set()  # values the target handed out (cookies, saved fields), not given to us
        self._lock = threading.RLock()
        self._share: Path | None = None
        self._owner = False  # this process made the share file (a stage or a nested gate only inherited it)
        self._offset = 0
        shared = run_context.current().secrets_file
        if shared:
            self._share = Path(shared)
            self._sync()

    # -- registering ---------------------------------------------------------------------------------------
    def add(self, value: str | None, name: str, min_length: int = MIN_SECRET, learned: bool = False) -> None:
        """Register a secret value; too-short values would redact noise, so they are refused."""
        if not value or len(value) < min_length:
            return
        with self._lock:
            self._sync()
            if value in self._secrets:
                return
            self._remember(value, name, learned)
            if self._share is not None:
                # a share file another process already removed must not turn every request into an error
                with contextlib.suppress(OSError):
                    _append(self._share, name, value, learned)  # read back by _sync later, and skipped as known

    def learn(self, value: str | None, name: str) -> None:
        """Register a value learned from traffic (cookie, saved field, storage state) under a derived name."""
        if isinstance(value, str):
            self.add(value, env_name(name), MIN_LEARNED, learned=True)

    def add_url(self, url: str | None) -> None:
        """Register the userinfo (password, user:password, its Basic form) of a URL."""
        if not url or "@" not in url:
            return
        try:
            parts = urlsplit(url)
        except ValueError:
            return
        if parts.password is None:
            return
        raw_user, _, raw_password = parts.netloc.rpartition("@")[0].partition(":")
        user, password = unquote(raw_user), unquote(raw_password)
        for value in {raw_password, password}:
            self.add(value, "URL_PASSWORD")
        self.add(f"{user}:{password}", "URL_USERINFO")
        self.add(f"{raw_user}:{raw_password}", "URL_USERINFO")
        self.add(base64.b64encode(f"{user}:{password}".encode()).decode(), "URL_USERINFO")

    def add_header(self, name: str, value: str) -> None:
        """Register the credential in an Authorization, Cookie or API-key header."""
        low = name.lower()
        if low in ("authorization", "proxy-authorization"):
            scheme, _, credential = value.partition(" ")
            self.add(credential.strip() or scheme, env_name(f"{name}_header"))
        elif low == "cookie":
            for pair in value.split(";"):
                cookie, _, cookie_value = pair.strip().partition("=")
                self.learn(cookie_value.strip('"'), f"COOKIE_{cookie}")
        elif low in SENSITIVE_HEADERS:
            self.add(value, env_name(f"{name}_header"))

    def add_set_cookie(self, header: str) -> None:
        """Register the value of one Set-Cookie header."""
        cookie, _, rest = header.partition("=")
        self.learn(rest.split(";", 1)[0].strip().strip('"'), f"COOKIE_{cookie.strip()}")

    def add_profile(self, profile: Profile) -> None:
        """Register every secret the profile takes from the environment, and its base URL's userinfo."""
        for ref in profile.secrets.values():
            self.add(os.environ.get(ref.env), ref.env)
        for alert in profile.alerts:
            if alert.webhook and alert.webhook.url_env:
                self.add(os.environ.get(alert.webhook.url_env), alert.webhook.url_env)
        self.add_url(profile.base_url)

    def _remember(self, value: str, name: str, learned: bool = False) -> None:
        self._secrets[value] = name
        if learned:
            self._learned.add(value)
        for form in forms(value):
            if form not in self._lookup:
                self._lookup[form] = name
                self._pending.add(form)

    # -- sharing between the gate and its stage processes -------------------------------------------------
    def share(self) -> Path:
        """Start sharing (in the gate): a private file every child process finds through the run context."""
        with self._lock:
            if self._share is None:
                folder = Path(tempfile.mkdtemp(prefix="synthgate-secrets-"))  # 0700
                self._share = folder / "secrets.jsonl"
                for value, name in self._secrets.items():
                    _append(self._share, name, value, value in self._learned)
                self._share.touch()
                self._offset = self._share.stat().st_size
                run_context.update(secrets_file=str(self._share))
                self._owner = True
                atexit.register(self.unshare)
            return self._share

    def unshare(self) -> None:
        """Stop sharing and delete the file (the values stay registered in this process).

        Only the process that made the file deletes it: a gate run inside a stage keeps sharing with its parent.
        """
        with self._lock:
            self._sync()
            if not self._owner:
                return
            self._owner = False
            path, self._share = self._share, None
            if path is not None:
                run_context.withdraw("secrets_file", str(path))  # in every context that still names it
                path.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    path.parent.rmdir()

    def _sync(self) -> None:
        """Read what other processes appended since the last look."""
        path = self._share
        if path is None:
            return
        with self._lock:
            self._read_share(path)

    def _read_share(self, path: Path) -> None:
        lines, self._offset = lines_since(path, self._offset)
        for line in lines:
            try:
                name, value, *flags = json.loads(line)
            except (ValueError, TypeError):
                continue
            if isinstance(value, str) and value not in self._secrets:
                self._remember(value, str(name), bool(flags and flags[0]))

    # -- using -------------------------------------------------------------------------------------------
    def placeholder(self, value: str) -> str | None:
        """The `$ENV` reference standing for a secret value, if it is one."""
        self._sync()
        name = self._secrets.get(value)
        return f"${name}" if name else None

    def pattern(self, text: str | None = None) -> re.Pattern[str] | None:
        """One regex matching, longest first, every form of every secret (None when there is none); given the text
        it will be used on, one that matches every secret occurring in that text."""
        with self._lock:
            self._sync()
            pending = self._pending
            if pending and (text is None or len(pending) > max(64, len(self._lookup) // 4)
                            or any(form in text for form in pending)):
                try:
                    self._pattern = re.compile(_trie_pattern(self._lookup))
                except (RecursionError, re.error):  # thousands of nested prefixes: the plain alternation
                    alternatives = sorted(self._lookup, key=len, reverse=True)
                    self._pattern = re.compile("|".join(re.escape(a) for a in alternatives))
                pending.clear()
            return self._pattern

    def name_of(self, form: str) -> str:
        """The env var name of a matched secret form."""
        return self._lookup.get(form, "SECRET")

    def __call__(self, text: str) -> str:
        """The text with every secret replaced by [REDACTED:ENV]."""
        if not text:
            return text
        pattern = self.pattern(text)
        if pattern is not None:
            text = pattern.sub(lambda m: f"[REDACTED:{self._lookup.get(m.group(0), 'SECRET')}]", text)
        return _BEARER.sub(lambda m: f"{m.group(1)} [REDACTED]", text)

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Headers with sensitive values hidden."""
        return [(k, "[REDACTED]" if k.lower() in SENSITIVE_HEADERS else self(v)) for k, v in headers]

    @property
    def values(self) -> list[str]:
        """The registered secret values (for scrubbers and self-tests that grep outputs)."""
        with self._lock:  # worker threads (the fuzz coverage phase) may be learning cookies meanwhile
            self._sync()
            return list(self._secrets)

    @property
    def given_values(self) -> list[str]:
        """The secrets given to the gate (profile, environment, URL, headers): what a response must never echo.

        Values the target itself handed out (a session cookie, an id a step saved) are redacted from every
        output too, but a response that repeats them leaks nothing."""
        with self._lock:
            self._sync()
            return [v for v in self._secrets if v not in self._learned]


def _append(path: Path, name: str, value: str, learned: bool = False) -> None:
    line = (json.dumps([name, value, learned], ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)  # one write of one line: appends of several processes never interleave
    finally:
        os.close(fd)


def mask_url(url: str) -> str:
    """The URL with its password replaced, for reports and the console."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return parts._replace(netloc=f"{user}:[REDACTED]@{host}").geturl()


# The process-wide registry: filled once the profile is loaded (and, in stage processes, from the shared file).
redactor = Redactor()


def redact(text: str) -> str:
    """Redact with the process-wide registry."""
    return redactor(text)


def _trie_pattern(words: Iterable[str]) -> str:
    """A regex of literal words as a trie: one pass per position whatever their number (an alternation of
    thousands of words tries each one at each position), the longest word matching at a position wins."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here

    def build(node: dict[str, Any]) -> str:
        branches = []
        for char, child in sorted(node.items()):
            if not char:
                continue
            run = char
            while len(child) == 1 and "" not in child:  # a chain without a branch or a word end: one literal
                (char, child), = child.items()
                run += char
            branches.append(re.escape(run) + build(child))
        if not branches:
            return ""
        body = "(?:" + "|".join(branches) + ")"
        return body + "?" if "" in node else body  # greedy: the longer word is tried first

    return build(root)
