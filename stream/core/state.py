"""Everything tierwatch remembers about one learner, between two calls of `step`.

Only aggregates are kept: counts per week, the last few scores, assignment status,
the tier with its reasons. Event ids are kept only (as short hashes) for the weeks not
yet evaluated, which is all de-duplication needs: an event for an evaluated week is
late and does not count anyway.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    model_serializer,
    model_validator,
)

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
    """The aggregate of an evaluated week, kept for the learner-state view.

    Stored as a row, `[week, events, active_days, completions, baseline, dip, persistence,
    fall]` with the dip as 0/1/2 and the fall as 0/1: twelve of these are most of a
    learner's state, and a row is a quarter of the size of the same object. An object
    (as stored by earlier releases) still loads."""

    week: int
    events: int
    active_days: int
    completions: int
    baseline: float | None
    dip: DipLevel
    persistence: int
    fall: bool

    @model_serializer(mode="plain")
    def _row(self) -> list[int | float | None]:
        return [
            self.week,
            self.events,
            self.active_days,
            self.completions,
            self.baseline,
            DIP_LEVELS.index(self.dip),
            self.persistence,
            int(self.fall),
        ]

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, data: Any) -> Any:
        if not isinstance(data, list | tuple):
            return data
        if len(data) != len(_ROW):
            raise ValueError(f"a closed week row has {len(_ROW)} items: {', '.join(_ROW)}")
        row = dict(zip(_ROW, data, strict=True))
        dip = row["dip"]
        if isinstance(dip, int) and 0 <= dip < len(DIP_LEVELS):
            row["dip"] = DIP_LEVELS[dip]
        return row


DIP_LEVELS: tuple[DipLevel, ...] = ("none", "minor", "major")
_ROW = tuple(ClosedWeek.model_fields)


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
