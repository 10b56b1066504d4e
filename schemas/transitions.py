"""A change of a learner's tier, with the evidence behind it."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Tier = Literal[0, 1, 2, 3]
Route = Literal["learner_nudge", "manager_outreach", "hr_escalation", "wellbeing", "resolved"]
Severity = Literal["none", "minor", "major", "critical"]
Exposure = Literal["customer_facing", "compliance_sensitive", "leadership_pipeline"]


class Reason(BaseModel):
    """One piece of evidence: a stable code, a sentence for a person, the numbers behind it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    text: str
    numbers: dict[str, float | int | str] = Field(default_factory=dict)


class Factors(BaseModel):
    """The three factors of the framework, as they stood at the transition."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    severity: Severity
    persistence_weeks: int = Field(ge=0)
    role_exposure: list[Exposure] = Field(default_factory=list)


class TierTransition(BaseModel):
    """One change of tier. `id` is deterministic: the same history gives the same ids."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    learner_id: str
    from_tier: Tier
    to_tier: Tier
    at: AwareDatetime
    week: str | None = Field(default=None, pattern=r"^\d{4}-W\d{2}$")
    factors: Factors
    reasons: list[Reason]
    route: Route
    follow_up_due: dt.date | None = None
