"""The `rollout:` section: progressive delivery by traffic split (Cloudflare Workers' versions, or any
platform with a split command and a per-request pin), and the version evidence every pinned answer carries."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from synthgate.profile.common import Duration, Strict

PLACEHOLDERS = ("{new}", "{old}", "{new_percent}", "{old_percent}")


class RolloutStep(Strict):
    """One step: the new version's share of the traffic, and how long it is watched there."""

    percent: float = Field(ge=0, le=100)
    hold_s: Duration = Field(default=0.0, ge=0, le=86_400)  # side-by-side comparison runs this long (min 3 s)


class Pin(Strict):
    """How one request is sent to a named version: a header whose value template holds {version}."""

    header: str = Field(min_length=1, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
    value: str = Field(min_length=1)

    @field_validator("value")
    @classmethod
    def _names_version(cls, value: str) -> str:
        if "{version}" not in value:
            raise ValueError("expected a template holding {version}, e.g. 'my-worker=\"{version}\"'")
        return value

    def render(self, version: str) -> dict[str, str]:
        """The header that pins a request to `version`."""
        return {self.header: self.value.replace("{version}", version)}


class VersionFrom(Strict):
    """Where an answer names the version that served it: a response header, or a dotted JSON field."""

    header: str | None = None
    json_field: str | None = Field(default=None, alias="json")

    @model_validator(mode="after")
    def _one_source(self) -> VersionFrom:
        if (self.header is None) == (self.json_field is None):
            raise ValueError("expected exactly one of 'header' or 'json'")
        return self


class Comparison(Strict):
    """How the new version is judged against the old one at a traffic step (side by side, same requests)."""

    confidence: float = Field(default=0.99, gt=0.5, lt=1)  # Mann-Whitney U, one-sided: the new one is slower
    min_effect_ms: float = Field(default=5.0, ge=0)  # the Hodges-Lehmann shift must exceed this too
    max_regression: float = Field(default=0.20, gt=0)  # and P50 or P95 rise by more than this fraction
    min_samples: int = Field(default=30, ge=5)  # per side and task; fewer: the task is not compared (no data)
    concurrency: int = Field(default=4, ge=1, le=64)  # request pairs in flight


class Rollout(Strict):
    """`synthgate rollout`: steps, the split command, the pin, the version evidence."""

    steps: list[RolloutStep] = Field(min_length=1)
    set_split: list[str] = Field(min_length=1)  # argument list with {new} {old} {new_percent} {old_percent}
    split_timeout_s: float = Field(default=60.0, gt=0, le=600)
    pin: Pin
    version_from: VersionFrom | None = None
    compare: Comparison = Field(default_factory=Comparison)
    # stages the gate runs at step 0, pinned to the new version (default: every stage)
    gate_stages: list[Literal["smoke", "e2e", "fuzz", "load"]] | None = None
    deadline_s: Duration | None = Field(default=None, gt=0)  # the whole rollout (default: from the steps)
    # the release changes schema or data: run rollback.snapshot before and rollback.restore on failure
    changes_data: bool = False

    @field_validator("set_split")
    @classmethod
    def _placeholders(cls, value: list[str]) -> list[str]:
        text = " ".join(value)
        missing = [p for p in ("{new}", "{old}") if p not in text]
        if missing:
            raise ValueError(f"expected the argument list to name {' and '.join(missing)} (placeholders: "
                             f"{', '.join(PLACEHOLDERS)})")
        return value

    @model_validator(mode="after")
    def _ends_at_100(self) -> Rollout:
        percents = [s.percent for s in self.steps]
        if percents != sorted(percents):
            raise ValueError(f"expected steps in rising order of percent, got {percents}")
        if percents[-1] != 100:
            raise ValueError("expected the last step at percent 100 (the promotion)")
        return self

    def render_split(self, new: str, old: str, new_percent: float) -> list[str]:
        """The split command for this step, placeholders filled."""
        values = {"{new}": new, "{old}": old, "{new_percent}": f"{new_percent:g}",
                  "{old_percent}": f"{100 - new_percent:g}"}
        out = []
        for arg in self.set_split:
            for key, value in values.items():
                arg = arg.replace(key, value)
            out.append(arg)
        return out
