"""When the in-page web-vitals observer (vitals.js) has seen enough, and INP from a journey's interactions.

LCP has no natural end in a page nobody touches: the web-vitals library reports it at the first input or when
the page is hidden. A synthetic journey ends the observation instead once the page has been quiet - no new LCP
candidate and no layout shift - for `quiet_ms` after the load event, after the last candidate or shift, and
after the LCP budget itself (so a candidate painted just past the budget is still seen), bounded by
`max_observe_ms` from the navigation's start.
"""

from __future__ import annotations

import math
from typing import Any


def observation_done(vitals: dict[str, Any] | None, quiet_ms: float, lcp_budget_ms: float | None,
                     max_observe_ms: float) -> bool:
    """Whether the LCP and CLS values of this page are final enough to judge."""
    return observation_left_ms(vitals, quiet_ms, lcp_budget_ms, max_observe_ms) == 0.0


def observation_left_ms(vitals: dict[str, Any] | None, quiet_ms: float, lcp_budget_ms: float | None,
                        max_observe_ms: float) -> float | None:
    """How long (page time, ms) until the observation is done if nothing new happens: 0 when it is done,
    None while the page has not reached its load event (then nothing can be said yet)."""
    if not vitals:
        return None
    now = float(vitals.get("now") or 0.0)
    if now >= max_observe_ms:
        return 0.0
    load = vitals.get("load")
    if load is None:
        return None
    marks = [float(load), float(vitals.get("last_shift_at") or 0.0)]
    if not vitals.get("lcp_stopped"):  # after the first input, LCP is final: only shifts may still come
        marks += [float(vitals.get("lcp_at") or 0.0), float(lcp_budget_ms or 0.0)]
    return max(0.0, min(max(marks) + quiet_ms, max_observe_ms) - now)


def inp(interactions: list[dict[str, Any]]) -> tuple[float | None, dict[str, Any] | None, int]:
    """(INP in ms, the interaction it comes from, how many interactions) as web-vitals computes it: the
    longest event duration of each interaction; the worst interaction, skipping one per 50 interactions."""
    worst: dict[str, dict[str, Any]] = {}
    for item in interactions:
        key = str(item.get("id"))
        if key not in worst or float(item.get("duration") or 0) > float(worst[key].get("duration") or 0):
            worst[key] = item
    if not worst:
        return None, None, 0
    ranked = sorted(worst.values(), key=lambda i: float(i.get("duration") or 0), reverse=True)
    chosen = ranked[min(len(ranked) - 1, math.floor(len(ranked) / 50))]
    return float(chosen.get("duration") or 0), chosen, len(ranked)
