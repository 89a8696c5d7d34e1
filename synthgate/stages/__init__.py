"""The four stages: smoke, e2e, fuzz, load; each turns a StageContext into a StageResult."""

from synthgate.stages.base import STAGE_ORDER, StageContext, stage_runner

__all__ = ["STAGE_ORDER", "StageContext", "stage_runner"]
