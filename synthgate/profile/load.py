"""The profile's load section: weighted tasks, run shape and thresholds."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoadThresholds(_Strict):
    """Limits the load stage gates on; each is one check in verdict.json."""

    p50_ms: float | None = None
    p95_ms: float | None = 500.0
    p99_ms: float | None = None
    error_rate: float | None = 0.01
    min_rps: float | None = None


class TaskThresholds(_Strict):
    """One task's own limits (its request name's checks); a limit it does not set is the profile's, null drops it."""

    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    error_rate: float | None = None


class LoadTask(_Strict):
    """One weighted request the virtual users send."""

    name: str | None = None  # the request name in the statistics; defaults to "METHOD path"
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str
    weight: int = Field(default=1, ge=1)
    json_body: Any = Field(default=None, alias="json")
    headers: dict[str, str] = Field(default_factory=dict)
    # statuses that count as success; anything else (and every transport error) is an error
    expect_status: list[int] = Field(default_factory=lambda: list(range(200, 400)))
    thresholds: TaskThresholds | None = None  # this request name's own limits (else the profile's)

    def limits(self, inherited: LoadThresholds) -> dict[str, float]:
        """This task's P50/P95/P99/error-rate limits: its own where it sets them, else the profile's."""
        own = self.thresholds
        out = {}
        for key, name in (("p50", "p50_ms"), ("p95", "p95_ms"), ("p99", "p99_ms"), ("error_rate", "error_rate")):
            value = getattr(own, name) if own is not None and name in own.model_fields_set else getattr(inherited, name)
            if value is not None:
                out[key] = float(value)
        return out

    @property
    def label(self) -> str:
        """The name this task's samples are recorded under."""
        return self.name or f"{self.method} {self.path}"


class DistributedLoad(_Strict):
    """Load from other machines: this run is a Locust master for remote `synthgate load --worker`s."""

    expect_workers: int = Field(ge=1, le=64)  # the test starts once this many workers are accepted
    bind: str = "*:5557"  # HOST:PORT the workers connect to (`*`: every interface)
    wait_s: float = Field(default=120.0, gt=0, le=3600)  # how long to wait for them to connect


class LoadConfig(_Strict):
    """How the load stage runs (the gate's short run; `synthgate load` may override duration and users)."""

    tasks: list[LoadTask] = Field(min_length=1)
    users: int = Field(default=10, ge=1)
    spawn_rate: float = Field(default=10.0, gt=0)
    duration_s: float = Field(default=8.0, gt=0, le=86400)
    arrival_rate: float | None = Field(default=None, gt=0)  # open model: target requests per second
    max_requests: int | None = Field(default=None, ge=1)  # hard bound on requests sent
    workers: int = Field(default=0, ge=0)  # local Locust worker processes (0: one process)
    distributed: DistributedLoad | None = None  # remote workers on other machines (see DistributedLoad)
    allow_writes: bool = False  # POST/PUT/PATCH/DELETE tasks run only when set
    timeout_s: float | None = None  # per request; defaults to the profile's timeout
    thresholds: LoadThresholds = Field(default_factory=LoadThresholds)
    user_class: Literal["fast", "fasthttp"] = "fast"
