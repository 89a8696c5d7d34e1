"""The embedded demo target: a small app with the reference surface, releases and a fault catalog."""

from synthgate.demo.faults import FAULTS
from synthgate.demo.releases import (
    HEALTHY_VERSION,
    StateError,
    deploy,
    init_state,
    read_state,
    rollback,
)

__all__ = ["FAULTS", "HEALTHY_VERSION", "StateError", "deploy", "init_state", "read_state", "rollback"]
