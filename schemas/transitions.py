"""A change of a learner's tier, with the evidence behind it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.limits import Instant, bounded_map

Tier = Literal[0, 1, 2, 3]
Route = Literal["learner_nudge", "manager_outreach", "hr_escalation", "wellbeing", "resolved"]
Severity = Literal["none", "minor", "major", "critical"]
Exposure = Literal["customer_facing", "compliance_sensitive", "leadership_pipeline"]
MAX_REASONS = 32  # a transition names a handful of conditions
MAX_NUMBERS = 32
Numbers = Annotated[
    dict[str, float | int | str], Field(max_length=MAX_NUMBERS), bounded_map(MAX_NUMBERS, 64, 512)
]


class Reason(BaseModel):
    """One piece of evidence: a stable code, a sentence for a person, the numbers behind it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(min_length=1, max_length=64)
    text: str = Field(max_length=2000)
    numbers: Numbers = Field(default_factory=dict)


class Factors(BaseModel):
    """The three factors of the framework, as they stood at the transition."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    severity: Severity
    persistence_weeks: int = Field(ge=0)
    role_exposure: list[Exposure] = Field(default_factory=list, max_length=3)


class TierTransition(BaseModel):
    """One change of tier. `id` is deterministic: the same history gives the same ids."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    learner_id: str = Field(min_length=1, max_length=512)
    from_tier: Tier
    to_tier: Tier
    at: Instant
    week: str | None = Field(default=None, pattern=r"^\d{4}-W\d{2}$")
    factors: Factors
    reasons: list[Reason] = Field(max_length=MAX_REASONS)
    route: Route
    follow_up_due: dt.date | None = None
