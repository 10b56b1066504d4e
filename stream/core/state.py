"""Everything tierwatch remembers about one learner, between two calls of `step`.

Only aggregates are kept: counts per week, the last few scores, assignment status,
the tier with its reasons. Event ids are kept only (as short hashes) for the weeks not
yet evaluated, which is all de-duplication needs: an event for an evaluated week is
late and does not count anyway.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
)

from schemas.roster import AssignmentKind, LearnerProfile
from schemas.transitions import Factors, Tier
from stream.core.reason_text import Cause, renders

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


class ClosedWeek(NamedTuple):
    """The aggregate of an evaluated week, kept for the learner-state view.

    Stored as a JSON row, `[week, events, active_days, completions, baseline, level,
    persistence, fell]`: twelve of these are most of a learner's state, and a row is a
    quarter of the size of the same object and several times quicker to load. An object
    (as stored by earlier releases) still loads (see `LearnerState`)."""

    week: int
    events: int
    active_days: int
    completions: int
    baseline: float | None
    level: Literal[0, 1, 2]  # the dip: 0 none, 1 minor, 2 major (`dip`)
    persistence: int
    fell: Literal[0, 1]  # 1 when an assessment fell in the week (`fall`)

    @classmethod
    def of(
        cls, week: int, events: int, active_days: int, completions: int,
        baseline: float | None, dip: DipLevel, persistence: int, fall: bool,
    ) -> ClosedWeek:  # fmt: skip
        level = _LEVEL[dip]
        fell: Literal[0, 1] = 1 if fall else 0
        return cls(week, events, active_days, completions, baseline, level, persistence, fell)

    @property
    def dip(self) -> DipLevel:
        return DIP_LEVELS[self.level]

    @property
    def fall(self) -> bool:
        return bool(self.fell)


def _closed_week_row(item: Any) -> Any:
    """A closed week stored as an object by an earlier release, as a row."""
    if not isinstance(item, dict):
        return item
    dip = item.get("dip")
    level = DIP_LEVELS.index(dip) if dip in DIP_LEVELS else dip
    fell = int(item["fall"]) if isinstance(item.get("fall"), bool) else item.get("fall")
    names = ClosedWeek._fields
    return [level if n == "level" else fell if n == "fell" else item.get(n) for n in names]


DIP_LEVELS: tuple[DipLevel, ...] = ("none", "minor", "major")
_LEVEL: dict[DipLevel, Literal[0, 1, 2]] = {"none": 0, "minor": 1, "major": 2}


def _cause_row(item: Any) -> Any:
    """A reason stored as an object by an earlier release (`{code, text, numbers}`), as a
    row; its sentence is dropped when its numbers give it back."""
    if not isinstance(item, dict):
        return item
    code, text, numbers = item.get("code"), item.get("text"), item.get("numbers", {})
    if isinstance(code, str) and isinstance(numbers, dict) and renders(code, numbers, text):
        text = None
    return [code, numbers, {}, text]


# A reason as the state stores it: `[code, numbers]`, then the values only its sentence uses
# and, rarely, the sentence itself (see `Cause`); the sentence is rendered when shown.
StoredCause = Annotated[Cause, BeforeValidator(_cause_row), PlainSerializer(Cause.row)]


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
    reasons: list[StoredCause] = Field(default_factory=list)  # the last transition's
    factors: Factors | None = None
    quiet_weeks: int = 0
    follow_up_due: dt.date | None = None
    outreach_at: AwareDatetime | None = None
    evidence_from: AwareDatetime | None = None  # evidence before a `resolved` intervention is spent
    last_intervention: str | None = None
    transitions: int = 0
    last_transition_id: str | None = None
    late_events: int = 0

    @field_validator("closed_weeks", mode="before")
    @classmethod
    def _rows(cls, value: Any) -> Any:
        if isinstance(value, list) and any(isinstance(item, dict) for item in value):
            return [_closed_week_row(item) for item in value]
        return value
