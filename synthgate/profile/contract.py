"""Contract annotations of an expectation: known drift from the operators' contract, and answers that prove nothing.

- `drift`: how the app is known to depart from the contract the check keeps (its runbook's status code, field
  name). A matching failure still fails; its message starts with "contract drift:" and names the departure.
- `unverifiable`: answers that say the check could not be verified from here (an outside service this network
  cannot reach, a rate limit that kept the request from the code under test). A matching failure is `no-data`:
  inconclusive for that check, never a pass and never evidence against the deploy.
"""

from __future__ import annotations

from pydantic import Field

from synthgate.profile.common import Regex, StatusSet, Strict


class Signature(Strict):
    """What an answer looks like: a status set and/or a regex its body must match."""

    status: StatusSet | None = None
    text_regex: Regex | None = None


class Drift(Signature):
    """A known departure of the app from the contract the check keeps (e.g. 400 where the runbook says 401)."""

    note: str = Field(min_length=1)  # what the app does instead, and where in its code


class Unverifiable(Signature):
    """An answer meaning the check could not be verified from here, and why."""

    reason: str = Field(min_length=1)
    # outside hosts the answer depends on: the mapping applies only while the runner cannot reach any of them
    # either (same closed network); where they are reachable, the answer is evidence like any other
    needs_hosts: list[str] = Field(default_factory=list)
