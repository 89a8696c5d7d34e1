"""The profile's probe and alert sections."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from synthgate.profile.common import Duration, Strict


class ProbeConfig(Strict):
    """Scheduling and incident policy of `synthgate probe`."""

    every: Duration = Field(default=300.0, gt=0)
    fail_after: int = Field(default=2, ge=1)  # consecutive failed rounds of a check that open an incident
    recover_after: int = Field(default=1, ge=1)  # consecutive passed rounds that resolve it
    # locations whose probes must see a check down (each after fail_after rounds, within one interval of each
    # other) before it counts as down: 2 of 3 keeps one location's network trouble from paging anyone
    quorum: int = Field(default=1, ge=1, le=64)
    slo: float = Field(default=99.9, gt=0, le=100)  # uptime target, percent
    jitter: float = Field(default=0.1, ge=0, le=1)  # each run fires up to this fraction of its interval late
    concurrency: int = Field(default=8, ge=1, le=256)  # checks running at once
    remind_every: Duration | None = Field(default=None, gt=0)  # re-alert while an incident stays open
    stages: list[Literal["smoke", "e2e"]] = Field(default_factory=lambda: ["smoke"])
    # "ignore": a probe that cannot reach the target at all records "unknown" (no evidence, as in the gate);
    # "down": it counts as a failure (for probes placed where only the target can be at fault).
    unreachable: Literal["ignore", "down"] = "ignore"
    # raw results older than this are deleted; their hourly and daily rollups stay 400 days
    retention: Duration = Field(default=7 * 86400.0, gt=0)


class WebhookAlert(Strict):
    """A webhook channel; the URL usually holds a token, so it comes from the environment."""

    url: str | None = None
    url_env: str | None = None
    format: Literal["slack", "json"] = "json"  # slack: {"text": ...}; json: the whole alert document
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    retries: int = Field(default=4, ge=0, le=20)  # after the first attempt, with exponential backoff

    @model_validator(mode="after")
    def _one_url(self) -> WebhookAlert:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("expected exactly one of 'url' or 'url_env' (prefer url_env: webhook URLs hold tokens)")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return self


class CommandAlert(Strict):
    """A command channel: an argument list, the alert JSON on its standard input."""

    command: list[str] = Field(min_length=1)
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    retries: int = Field(default=2, ge=0, le=20)


class Alert(Strict):
    """One alert channel."""

    webhook: WebhookAlert | None = None
    command: CommandAlert | None = None

    @model_validator(mode="after")
    def _one_channel(self) -> Alert:
        if (self.webhook is None) == (self.command is None):
            raise ValueError("expected exactly one of 'webhook' or 'command'")
        return self
