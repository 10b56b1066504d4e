"""Everything tierwatch remembers about one learner, between two calls of `step`.

Only aggregates are kept: counts per week, the last few scores, assignment status,
the tier with its reasons. Event ids are kept only (as short hashes) for the weeks not
yet evaluated, which is all de-duplication needs: an event for an evaluated week is
late and does not count anyway.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.roster import AssignmentKind, LearnerProfile
from schemas.transitions import Factors, Reason, Tier

DipLevel = Literal["none", "minor", "major"]


class _Model(BaseModel):
    # stored state written by an older or newer release still loads: unknown fields are
    # ignored, missing ones take their defaults
    model_config = ConfigDict(extra="ignore", validate_assignment=False)


class OpenWeek(_Model):
    """A week not yet evaluated: its activity so far and the ids already counted."""

    events: int = 0
    days: int = 0  # bit i set when the learner was active on weekday i (Monday = 0)
    completions: int = 0
    fall: bool = False
    seen: list[int] = Field(default_factory=list)


class ClosedWeek(_Model):
    """The aggregate of an evaluated week, kept for the learner-state view."""

    week: int
    events: int
    active_days: int
    completions: int
    baseline: float | None
    dip: DipLevel
    persistence: int
    fall: bool


class AssignmentState(_Model):
    kind: AssignmentKind
    due: dt.date
    completed: bool = False


class LearnerState(_Model):
    """The per-learner value of the state table."""

    learner_id: str
    profile: LearnerProfile | None = None
    first_week: int | None = None  # the first week with any dated record: evaluation starts here
    first_active_week: int | None = None  # the first week with activity: the baseline starts here
    evaluated_week: int | None = None  # the last week evaluated
    baseline_from_week: int | None = None  # weeks before this do not enter the baseline
    open_weeks: dict[int, OpenWeek] = Field(default_factory=dict)
    closed_weeks: list[ClosedWeek] = Field(default_factory=list)
    baseline_window: list[int] = Field(default_factory=list)  # recent non-dip week activity
    persistence: int = 0  # consecutive evaluated weeks with a dip
    scores: list[float] = Field(default_factory=list)  # recent assessment scores, oldest first
    last_fall_at: AwareDatetime | None = None
    assignments: dict[str, AssignmentState] = Field(default_factory=dict)
    completed_objects: list[int] = Field(default_factory=list)  # hashes, newest last (bounded)
    tier: Tier = 0
    tier_since: AwareDatetime | None = None
    reasons: list[Reason] = Field(default_factory=list)
    factors: Factors | None = None
    quiet_weeks: int = 0
    follow_up_due: dt.date | None = None
    outreach_at: AwareDatetime | None = None
    evidence_from: AwareDatetime | None = None  # evidence before a `resolved` intervention is spent
    last_intervention: str | None = None
    transitions: int = 0
    last_transition_id: str | None = None
    late_events: int = 0
