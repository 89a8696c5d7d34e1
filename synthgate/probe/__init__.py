"""Scheduled synthetic probes: the gate's checks on a schedule, with history, incidents, alerts and metrics."""
