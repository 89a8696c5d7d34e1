"""The one secret registry: every report writer, log line and console message passes through it."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from synthgate.profile.model import Profile

# Header values that are secret whatever the profile says.
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}")


class Redactor:
    """Replaces every registered secret value with a placeholder naming its environment variable."""

    def __init__(self) -> None:
        self._secrets: dict[str, str] = {}  # value -> env var name

    def add(self, value: str | None, name: str) -> None:
        """Register a secret value; values shorter than 4 characters would redact noise, so they are refused."""
        if value and len(value) >= 4:
            self._secrets[value] = name

    def add_profile(self, profile: Profile) -> None:
        """Register every secret the profile takes from the environment."""
        for ref in profile.secrets.values():
            self.add(os.environ.get(ref.env), ref.env)
        for alert in profile.alerts:
            if alert.webhook and alert.webhook.url_env:
                self.add(os.environ.get(alert.webhook.url_env), alert.webhook.url_env)

    def placeholder(self, value: str) -> str | None:
        """The `$ENV` reference standing for a secret value, if it is one."""
        name = self._secrets.get(value)
        return f"${name}" if name else None

    def __call__(self, text: str) -> str:
        """The text with every secret replaced by [REDACTED:ENV]."""
        if not text:
            return text
        for value in sorted(self._secrets, key=len, reverse=True):
            if value in text:
                text = text.replace(value, f"[REDACTED:{self._secrets[value]}]")
        return _BEARER.sub(lambda m: f"{m.group(1)} [REDACTED]", text)

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Headers with sensitive values hidden."""
        return [(k, "[REDACTED]" if k.lower() in SENSITIVE_HEADERS else self(v)) for k, v in headers]

    @property
    def values(self) -> list[str]:
        """The registered secret values (for self-tests that grep outputs)."""
        return list(self._secrets)


# The process-wide registry: filled once the profile is loaded.
redactor = Redactor()


def redact(text: str) -> str:
    """Redact with the process-wide registry."""
    return redactor(text)
