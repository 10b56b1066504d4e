"""Everything tierwatch remembers about one learner, between two calls of `step`.

Only aggregates are kept: counts per week, the last few scores, assignment status,
the tier with its reasons. Event ids are kept only (as short hashes) for the weeks not
yet evaluated, which is all de-duplication needs: an event for an evaluated week is
late and does not count anyway.

How a state is stored (compact rows, and the forms earlier releases stored, which still
load) is `stream.core.stored`'s; each field below names its stored form.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    PlainSerializer,
    PlainValidator,
    TypeAdapter,
    ValidationInfo,
)

from schemas.roster import AssignmentKind
from schemas.transitions import Tier
from stream.core import stored
from stream.core.stored import DIP_LEVELS, DipLevel, StoredCause, StoredFactors, StoredProfile


@dataclass(slots=True)
class OpenWeek:
    """A week not yet evaluated: its activity so far and the ids already counted.

    A plain dataclass, not a model: every event updates one, and setting an attribute of a
    pydantic model costs about twenty times more. Pydantic still validates and serialises
    it as a field of `LearnerState` (unknown keys ignored, defaults left out)."""

    events: int = 0
    days: int = 0  # bit i set when the learner was active on weekday i (Monday = 0)
    completions: int = 0
    fall: bool = False
    # the earliest instant of a fall counted in the week (None with `fall` in states stored
    # by earlier releases: when unknown, a fall counts as already seen)
    fell_at: dt.datetime | None = None
    seen: list[int] = field(default_factory=list)
    # what each event in `seen` gave the week (aligned from the end; `stream.core.retraction`)
    gave: list[int] = field(default_factory=list)


class ClosedWeek(NamedTuple):
    """The aggregate of an evaluated week, kept for the learner-state view; stored as a
    row (`stream.core.stored.ClosedRow`): twelve of these are most of a learner's state, and
    a row is a quarter of the size of the same object and several times quicker to load."""

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


_LEVEL: dict[DipLevel, Literal[0, 1, 2]] = {"none": 0, "minor": 1, "major": 2}


def _closed_weeks_of(value: Any) -> list[ClosedWeek]:
    return [ClosedWeek._make(row) for row in stored.closed_week_rows(value)]


StoredClosedWeeks = Annotated[
    list[ClosedWeek], PlainValidator(_closed_weeks_of), PlainSerializer(stored.closed_rows)
]


@dataclass(slots=True)
class AssignmentState:
    """An assignment not completed (earlier releases kept completed ones too)."""

    kind: AssignmentKind
    due: dt.date
    completed: bool = False


StoredAssignment = Annotated[
    AssignmentState,
    BeforeValidator(stored.assignment_of),
    PlainSerializer(stored.assignment_row),
]


@dataclass(slots=True)
class Completion:
    """An assignment a completion closed, kept so that voiding the completion reopens it
    (`stream.core.completions`)."""

    object_id: str
    kind: AssignmentKind
    due: dt.date


StoredCompletion = Annotated[
    Completion, BeforeValidator(stored.completion_of), PlainSerializer(stored.completion_row)
]


@dataclass(slots=True)
class Chase:
    """An overdue follow-up chased: the day the manager was reminded, and whether it was
    escalated since; stored as a row (`stream.core.stored.chase_row`)."""

    reminded: dt.date
    escalated: bool = False


StoredChase = Annotated[Chase, BeforeValidator(stored.chase_of), PlainSerializer(stored.chase_row)]


@dataclass(slots=True)
class LearnerState:
    """The per-learner value of the state table (its stored form: `stream.core.stored`)."""

    learner_id: str
    profile: Annotated[StoredProfile | None, BeforeValidator(_profile_of)] = None
    first_week: int | None = None  # the first week with any dated record: evaluation starts here
    first_active_week: int | None = None  # the first week with activity: the baseline starts here
    evaluated_week: int | None = None  # the last week evaluated
    baseline_from_week: int | None = None  # weeks before this do not enter the baseline
    open_weeks: dict[int, OpenWeek] = field(default_factory=dict)
    closed_weeks: StoredClosedWeeks = field(default_factory=list)
    baseline_window: list[int] = field(default_factory=list)  # recent non-dip week activity
    persistence: int = 0  # consecutive evaluated weeks with a dip
    scores: list[float] = field(default_factory=list)  # recent assessment scores, oldest first
    last_fall_at: AwareDatetime | None = None
    assignments: dict[str, StoredAssignment] = field(default_factory=dict)
    completed_objects: list[int] = field(default_factory=list)  # hashes, newest last (bounded)
    completions: list[StoredCompletion] = field(default_factory=list)  # newest last (bounded)
    seen_interventions: list[int] = field(default_factory=list)  # keys, newest last (bounded)
    tier: Tier = 0
    tier_since: AwareDatetime | None = None
    episode_from: AwareDatetime | None = None  # the tier last rose from 0 then (links of
    # an earlier episode are refused: `stream.worker.actions_web`)
    reasons: list[StoredCause] = field(default_factory=list)  # the last transition's
    factors: StoredFactors | None = None
    quiet_weeks: int = 0
    follow_up_due: dt.date | None = None
    talk_by: dt.date | None = None  # a Tier 2 arrival waits for a conversation by this day
    # the waiting arrival's transition id, left out while it is `last_transition_id`
    # (`stream.core.transitions.move` keeps it when another transition follows)
    talk_for: str | None = None
    chased: StoredChase | None = None  # the waiting arrival's reminder (`stream.core.reminders`)
    outreach_at: AwareDatetime | None = None
    evidence_from: AwareDatetime | None = None  # evidence before a `resolved` intervention is spent
    snoozed_until: dt.date | None = None  # no prompts to the manager up to this day
    last_intervention: str | None = None  # the latest action recorded (feedback is not one)
    last_intervention_on: dt.date | None = None  # its day (the day it names, else recorded)
    transitions: int = 0
    last_transition_id: str | None = None
    late_events: int = 0
    late_keys: list[int] = field(default_factory=list)  # events that came late (bounded)
    retracted: list[int] = field(default_factory=list)  # events taken back (bounded)

    # The stored form, through pydantic (`_STORED`): the state is a plain class, because the
    # core sets its attributes on every record and a model's `__setattr__` costs several
    # times more; it keeps a model's names for its stored form, which every caller uses.
    @classmethod
    def model_validate_json(cls, raw: str | bytes) -> LearnerState:
        """A stored state (any form an earlier release stored: `stream.core.stored`)."""
        return _STORED.validate_json(raw)

    @classmethod
    def model_validate(cls, value: Any) -> LearnerState:
        """A state from its stored form as Python objects."""
        return _STORED.validate_python(value)

    def model_dump_json(self, *, exclude_defaults: bool = False) -> str:
        """The stored form as JSON (the worker stores it without the defaults)."""
        return _STORED.dump_json(self, exclude_defaults=exclude_defaults).decode()

    def model_dump(
        self, *, mode: Literal["json", "python"] = "python", exclude_defaults: bool = False
    ) -> dict[str, Any]:
        """The stored form as Python objects (`mode="json"`: as JSON would give them)."""
        dumped: dict[str, Any] = _STORED.dump_python(
            self, mode=mode, exclude_defaults=exclude_defaults
        )
        return dumped


def _profile_of(value: Any, info: ValidationInfo) -> Any:
    """The stored profile with the state's learner id (see `StoredProfile`)."""
    if isinstance(value, dict) and "learner_id" not in value and "learner_id" in info.data:
        return {**value, "learner_id": info.data["learner_id"]}
    return value


# A stored state written by an older or newer release still loads: unknown fields are
# ignored (pydantic's default for a dataclass), missing ones take their defaults.
_STORED: TypeAdapter[LearnerState] = TypeAdapter(LearnerState)


__all__ = [
    "DIP_LEVELS",
    "AssignmentState",
    "Chase",
    "ClosedWeek",
    "Completion",
    "DipLevel",
    "LearnerState",
    "OpenWeek",
    "StoredAssignment",
    "StoredCause",
    "StoredClosedWeeks",
    "StoredCompletion",
    "StoredFactors",
    "StoredProfile",
]
