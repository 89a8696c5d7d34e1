"""Prometheus metrics of a probe process (prometheus-client), labelled by target, check and location."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, start_http_server

from synthgate.store import CheckState, ProbeResult

# seconds: loopback checks take milliseconds, remote ones up to the timeout
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ProbeMetrics:
    """The probe's metrics in their own registry (plus process metrics: memory, CPU, open files)."""

    def __init__(self, target: str, location: str) -> None:
        self.target = target
        self.location = location
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        labels = ["target", "check", "location"]
        self.up = Gauge("synthgate_probe_up", "1 when the check's last result with evidence passed, 0 when it "
                        "failed", labels, registry=self.registry)
        self.latency = Histogram("synthgate_probe_latency_seconds", "latency of the check's requests (final attempt)",
                                 labels, buckets=LATENCY_BUCKETS, registry=self.registry)
        self.consecutive = Gauge("synthgate_probe_consecutive_failures", "consecutive failed runs of the check",
                                 labels, registry=self.registry)
        self.check_down = Gauge("synthgate_probe_check_down", "1 while the check counts as down (fail_after "
                                "reached, recover_after not yet)", labels, registry=self.registry)
        self.last_run = Gauge("synthgate_probe_last_run_timestamp_seconds", "when the check last ran (Unix time)",
                              labels, registry=self.registry)
        self.results = Counter("synthgate_probe_results", "probe results by outcome (up, down, unknown)",
                               [*labels, "outcome"], registry=self.registry)
        self.incidents_open = Gauge("synthgate_probe_incidents_open", "open incidents of the target (0 or 1)",
                                    ["target", "location"], registry=self.registry)
        self.alerts = Counter("synthgate_probe_alerts", "alert delivery attempts by channel, event and outcome "
                              "(sent, retry, failed, expired)", ["target", "location", "channel", "event", "outcome"],
                              registry=self.registry)
        self.consistency = Gauge("synthgate_probe_consistency_seconds", "how long the check's eventually consistent "
                                 "read took to hold (steps with `eventually:`)", labels, registry=self.registry)
        self.uptime = Gauge("synthgate_probe_uptime_ratio", "share of the check's results with evidence that passed "
                            "over a window (30d, 90d, 365d; from the rollups where raw results are pruned)",
                            [*labels, "window"], registry=self.registry)
        self.incidents_open.labels(target, location).set(0)

    def set_uptime(self, window: str, counts: dict[str, dict[str, int]]) -> None:
        """Each check's uptime over a window, from the store's outcome counts (check -> up/down/unknown)."""
        for check, c in counts.items():
            total = c.get("up", 0) + c.get("down", 0)
            if total:
                self.uptime.labels(self.target, check, self.location, window).set(c.get("up", 0) / total)

    def observe(self, result: ProbeResult, state: CheckState) -> None:
        """Account for one result and the check state it led to."""
        labels = (self.target, result.check_id, self.location)
        self.results.labels(*labels, result.outcome).inc()
        self.last_run.labels(*labels).set(result.ts)
        self.consecutive.labels(*labels).set(state.consecutive_failures)
        self.check_down.labels(*labels).set(1 if state.down else 0)
        if result.outcome != "unknown":  # "unknown" is no evidence: up keeps its last value
            self.up.labels(*labels).set(1 if result.outcome == "up" else 0)
            if result.latency_ms is not None:
                self.latency.labels(*labels).observe(result.latency_ms / 1000)
        if result.consistency_s is not None:
            self.consistency.labels(*labels).set(result.consistency_s)

    def restore(self, states: dict[str, CheckState], incident_open: bool) -> None:
        """Start from the stored state after a restart, so gauges do not reset to 0."""
        for state in states.values():
            labels = (self.target, state.check_id, self.location)
            self.consecutive.labels(*labels).set(state.consecutive_failures)
            self.check_down.labels(*labels).set(1 if state.down else 0)
            if state.last_outcome in ("up", "down"):
                self.up.labels(*labels).set(1 if state.last_outcome == "up" else 0)
        self.set_incident(incident_open)

    def set_incident(self, is_open: bool) -> None:
        """Whether the target has an open incident."""
        self.incidents_open.labels(self.target, self.location).set(1 if is_open else 0)

    def delivery(self, channel: str, event: str, outcome: str) -> None:
        """Count one alert delivery attempt."""
        self.alerts.labels(self.target, self.location, channel, event, outcome).inc()

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        """Serve /metrics on a port (a daemon thread); OSError when the port is taken."""
        start_http_server(port, addr=addr, registry=self.registry)
