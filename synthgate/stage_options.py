"""Stage options: one run's overrides of the profile for its stages (CLI flags, the rollout's version pin).

The gate hands them to a stage in-process (`StageContext.options`) and to the stage's pytest child as JSON
(`--synthgate-options`, read back with the same model): a misspelled key is an error on either side, never
dropped. None everywhere means "the profile's own value".
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PinOption(BaseModel):
    """synthgate rollout's version pin as a stage carries it (synthgate.version_pin.VersionPin)."""

    model_config = ConfigDict(extra="forbid")

    version: str
    headers: dict[str, str] = Field(default_factory=dict)  # the headers that pin each request
    evidence_header: str | None = None  # where an answer names its version: a header...
    evidence_json: str | None = None  # ...or a dotted JSON field


class StageOptions(BaseModel):
    """Per-run overrides of the profile's stage settings; None keeps the profile's value."""

    model_config = ConfigDict(extra="forbid")

    # fuzz
    seed: int | None = None  # `synthgate run --seed`: replay a run
    max_examples: int | None = None  # examples per test, over every endpoint's own bound
    max_time_s: float | None = None  # the fuzz stage's time bound
    max_rps: float | None = None
    concurrency: int | None = None
    coverage: bool | None = None
    repeat: int | None = None  # the bundled fuzz suite runs its plan this many rounds (1)
    # load (`synthgate load` flags, `synthgate run --workers`)
    users: int | None = None
    spawn_rate: float | None = None
    duration_s: float | None = None
    arrival_rate: float | None = None  # open model: target requests per second
    max_requests: int | None = None
    workers: int | None = None  # local Locust worker processes
    user_class: str | None = None
    insecure_tls: bool | None = None
    expect_workers: int | None = None  # `synthgate load --master`: start once this many remote workers joined
    bind: str | None = None  # the master's HOST:PORT for remote workers
    # synthgate rollout: every request of the stage pinned to one version, every answer's version checked
    pin: PinOption | None = None

    def to_json(self) -> str:
        """The options a stage's pytest child gets (`--synthgate-options`): only those set."""
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def from_json(cls, text: str) -> StageOptions:
        """Options written by `to_json` (or by hand for a suite run alone); pydantic.ValidationError otherwise."""
        return cls.model_validate_json(text or "{}")
