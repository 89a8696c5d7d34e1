"""The e2e stage's engine: browser discovery, the journey plan and runner, web vitals, evidence."""

from synthgate.e2e.browser import BrowserChoice, BrowserNotFound, discover
from synthgate.e2e.plan import PlannedStep, plan, plan_all

__all__ = ["BrowserChoice", "BrowserNotFound", "PlannedStep", "discover", "plan", "plan_all"]
