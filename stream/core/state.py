"""Everything tierwatch remembers about one learner, between two calls of `step`.

Only aggregates are kept: counts per week, the last few scores, assignment status,
the tier with its reasons. Event ids are kept only (as short hashes) for the weeks not
yet evaluated, which is all de-duplication needs: an event for an evaluated week is
late and does not count anyway.

The worker stores a state as JSON without its defaults, most of it as rows: the closed
weeks (`ClosedWeek`), the assignments, the reasons (`Cause`, without their sentences, which
are rendered again when shown) and the factors; the profile leaves out the learner id it
shares with the state. Whatever earlier releases stored (objects, sentences) still loads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationInfo,
    WrapSerializer,
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
    """The aggregate of an evaluated week, kept for the learner-state view.

    Stored as a JSON row, `[week, events, active_days, completions, baseline, level,
    persistence, fell]`: twelve of these are most of a learner's state, and a row is a
    quarter of the size of the same object and several times quicker to load. The weeks
    follow one another, so the row of the week after the row before it leaves out its week,
    and its zeros at the end (a week without a dip or a fall ends at its baseline). An
    object (as stored by earlier releases) still loads (see `StoredClosedWeeks`)."""

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


def _closed_weeks_of(value: Any) -> list[ClosedWeek]:
    """The closed weeks from their stored rows: a short row is the week after the row
    before it (pydantic then checks the rows as plain tuples, quicker than named tuples)."""
    if not isinstance(value, list):
        raise ValueError("closed weeks are a list of rows")
    rows: list[Any] = []
    week: int | None = None
    for item in value:
        row, n = item, len(item) if isinstance(item, list | tuple) else 0
        if _SHORTEST <= n < _WHOLE:  # the usual row: the week after the one before
            if week is None:
                raise ValueError("a row without its week must follow another row")
            week += 1
            row = [week, *item, *_PADDING[n]]
        else:
            row = _closed_week_row(item)
            first = row[0] if isinstance(row, list | tuple) and row else None
            week = first if type(first) is int else None
        rows.append(row)
    return [ClosedWeek._make(row) for row in _ROWS.validate_python(rows)]


def _closed_rows(weeks: list[ClosedWeek]) -> list[tuple[Any, ...]]:
    """The stored rows of the closed weeks (see `ClosedWeek`)."""
    rows: list[tuple[Any, ...]] = []
    after: int | None = None
    for week in weeks:
        if week.week != after:
            rows.append(week)
        else:  # without the week, and the zeros at the end (never the baseline)
            end = 8 if week.fell else 7 if week.persistence else 6 if week.level else 5
            rows.append(week[1:end])
        after = week.week + 1
    return rows


DIP_LEVELS: tuple[DipLevel, ...] = ("none", "minor", "major")
_LEVEL: dict[DipLevel, Literal[0, 1, 2]] = {"none": 0, "minor": 1, "major": 2}
_WHOLE = len(ClosedWeek._fields)  # a row with its week
_SHORTEST = ClosedWeek._fields.index("baseline")  # a row without its week, ending at baseline
_PADDING = [(0,) * (_WHOLE - 1 - n) for n in range(_WHOLE)]  # the zeros a short row left out
_ROWS = TypeAdapter(
    list[tuple[int, int, int, int, float | None, Literal[0, 1, 2], int, Literal[0, 1]]]
)

StoredClosedWeeks = Annotated[
    list[ClosedWeek], PlainValidator(_closed_weeks_of), PlainSerializer(_closed_rows)
]


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


def _factors_of(value: Any) -> Any:
    """Factors stored as a row, as an object."""
    if isinstance(value, list):
        return dict(zip(Factors.model_fields, value, strict=False))
    return value


def _factors_row(factors: Factors) -> list[Any]:
    row: list[Any] = [factors.severity, factors.persistence_weeks]
    return [*row, factors.role_exposure] if factors.role_exposure else row


# The transition's factors as the state stores them: `[severity, persistence_weeks,
# role_exposure]`, without the exposure when there is none (an object still loads).
StoredFactors = Annotated[Factors, BeforeValidator(_factors_of), PlainSerializer(_factors_row)]


def _without_learner_id(profile: LearnerProfile, handler: SerializerFunctionWrapHandler) -> Any:
    stored = handler(profile)
    if isinstance(stored, dict):
        stored.pop("learner_id", None)
    return stored


# The profile as the state stores it: without the learner id, which is the state's
# (`LearnerState._profile_of` puts it back; a profile with it still loads).
StoredProfile = Annotated[LearnerProfile, WrapSerializer(_without_learner_id)]


class AssignmentState(_Model):
    """An assignment not completed; stored as a row, `[kind, due]` (earlier releases kept
    completed ones, ending in 1; those rows and objects still load)."""

    kind: AssignmentKind
    due: dt.date
    completed: bool = False

    def row(self) -> list[Any]:
        """The stored form."""
        due = self.due.isoformat()
        return [self.kind, due, 1] if self.completed else [self.kind, due]


def _assignment_of(item: Any) -> Any:
    """An assignment stored as a row, as an object."""
    if isinstance(item, list):
        return dict(zip(("kind", "due", "completed"), item, strict=False))
    return item


StoredAssignment = Annotated[
    AssignmentState, BeforeValidator(_assignment_of), PlainSerializer(AssignmentState.row)
]


class Completion(_Model):
    """An assignment a completion closed, kept so that voiding the completion reopens it
    (`stream.core.completions`). Stored as a row, `[object id, kind, due]`."""

    object_id: str
    kind: AssignmentKind
    due: dt.date

    def row(self) -> list[Any]:
        """The stored form."""
        return [self.object_id, self.kind, self.due.isoformat()]


def _completion_of(item: Any) -> Any:
    if isinstance(item, list):
        return dict(zip(("object_id", "kind", "due"), item, strict=False))
    return item


StoredCompletion = Annotated[
    Completion, BeforeValidator(_completion_of), PlainSerializer(Completion.row)
]


class LearnerState(_Model):
    """The per-learner value of the state table (its stored form: see the module)."""

    learner_id: str
    profile: StoredProfile | None = None
    first_week: int | None = None  # the first week with any dated record: evaluation starts here
    first_active_week: int | None = None  # the first week with activity: the baseline starts here
    evaluated_week: int | None = None  # the last week evaluated
    baseline_from_week: int | None = None  # weeks before this do not enter the baseline
    open_weeks: dict[int, OpenWeek] = Field(default_factory=dict)
    closed_weeks: StoredClosedWeeks = Field(default_factory=list)
    baseline_window: list[int] = Field(default_factory=list)  # recent non-dip week activity
    persistence: int = 0  # consecutive evaluated weeks with a dip
    scores: list[float] = Field(default_factory=list)  # recent assessment scores, oldest first
    last_fall_at: AwareDatetime | None = None
    assignments: dict[str, StoredAssignment] = Field(default_factory=dict)
    completed_objects: list[int] = Field(default_factory=list)  # hashes, newest last (bounded)
    completions: list[StoredCompletion] = Field(default_factory=list)  # newest last (bounded)
    seen_interventions: list[int] = Field(default_factory=list)  # keys, newest last (bounded)
    tier: Tier = 0
    tier_since: AwareDatetime | None = None
    reasons: list[StoredCause] = Field(default_factory=list)  # the last transition's
    factors: StoredFactors | None = None
    quiet_weeks: int = 0
    follow_up_due: dt.date | None = None
    outreach_at: AwareDatetime | None = None
    evidence_from: AwareDatetime | None = None  # evidence before a `resolved` intervention is spent
    last_intervention: str | None = None
    transitions: int = 0
    last_transition_id: str | None = None
    late_events: int = 0
    late_keys: list[int] = Field(default_factory=list)  # events that came late (bounded)
    retracted: list[int] = Field(default_factory=list)  # events taken back (bounded)

    @field_validator("profile", mode="before")
    @classmethod
    def _profile_of(cls, value: Any, info: ValidationInfo) -> Any:
        """The stored profile with the state's learner id (see `StoredProfile`)."""
        if isinstance(value, dict) and "learner_id" not in value and "learner_id" in info.data:
            return {**value, "learner_id": info.data["learner_id"]}
        return value
