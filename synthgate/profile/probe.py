"""The profile's probe and alert sections."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from synthgate.profile.common import Duration, Strict


class ProbeConfig(Strict):
    """Scheduling and incident policy of `synthgate probe`."""

    every: Duration = 300.0
    fail_after: int = Field(default=2, ge=1)
    recover_after: int = Field(default=1, ge=1)
    slo: float = Field(default=99.9, gt=0, le=100)
    jitter: float = Field(default=0.1, ge=0, le=1)
    concurrency: int = Field(default=8, ge=1)
    remind_every: Duration | None = None
    stages: list[Literal["smoke", "e2e"]] = Field(default_factory=lambda: ["smoke"])


class WebhookAlert(Strict):
    """A webhook channel; the URL usually holds a token, so it comes from the environment."""

    url: str | None = None
    url_env: str | None = None
    format: Literal["slack", "json"] = "json"
    timeout_s: float = 5.0


class CommandAlert(Strict):
    """A command channel: an argument list, the alert JSON on its standard input."""

    command: list[str]
    timeout_s: float = 30.0


class Alert(Strict):
    """One alert channel."""

    webhook: WebhookAlert | None = None
    command: CommandAlert | None = None
