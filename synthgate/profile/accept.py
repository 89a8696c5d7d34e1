"""The profile's `accept:` entries: known defects set aside, each with a reason and an expiry date."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, field_validator

from synthgate.profile.common import Regex, Strict


class Acceptance(Strict):
    """A failure the team accepts until a date: a matching failed check is `accepted`, neither pass nor fail."""

    check: str = Field(min_length=1)  # a glob over check ids, e.g. manuscripts-require-auth, fuzz:*/v1/items*
    reason: str = Field(min_length=1)  # why, or the ticket that tracks the fix
    until: dt.date  # the last day the acceptance holds; after it the failure fails again, saying it expired
    message: Regex | None = None  # only failures whose message this regular expression finds (searched)

    @field_validator("reason")
    @classmethod
    def _reason_said(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("expected a reason or a ticket (why this failure is accepted)")
        return value.strip()
