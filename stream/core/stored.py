"""The stored form of a learner's state: the rows its parts are kept as, and the forms
earlier releases stored, which still load.

The worker stores a state (`stream.core.state.LearnerState`) as JSON without its
defaults, most of it as rows: the closed weeks, the assignments and the completions that
closed one, the reasons (`Cause`, without their sentences, which are rendered again when
shown) and the factors; the profile leaves out the learner id it shares with the state.
Whatever earlier releases stored (objects, sentences) still loads. This module only
converts: the model of what is remembered is `stream.core.state`'s, which names each
stored form here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    BeforeValidator,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    WrapSerializer,
)

from schemas.roster import LearnerProfile
from schemas.transitions import Factors
from stream.core.reason_text import Cause, renders

DipLevel = Literal["none", "minor", "major"]
DIP_LEVELS: tuple[DipLevel, ...] = ("none", "minor", "major")  # a dip is stored as its index

# A closed week: `[week, events, active_days, completions, baseline, level, persistence,
# fell]` (`stream.core.state.ClosedWeek`): level the dip's index in `DIP_LEVELS`, fell 1
# when an assessment fell in the week.
ClosedRow = tuple[int, int, int, int, float | None, Literal[0, 1, 2], int, Literal[0, 1]]
# the keys of a closed week stored as an object by an earlier release, in the row's order
_OBJECT_KEYS = (
    "week", "events", "active_days", "completions", "baseline", "dip", "persistence", "fall",
)  # fmt: skip
_WHOLE = len(_OBJECT_KEYS)  # a row with its week
_SHORTEST = _OBJECT_KEYS.index("baseline")  # a row without its week, ending at baseline
_PADDING = [(0,) * (_WHOLE - 1 - n) for n in range(_WHOLE)]  # the zeros a short row left out
_ROWS = TypeAdapter(list[ClosedRow])


def _closed_week_row(item: Any) -> Any:
    """A closed week stored as an object by an earlier release, as a row."""
    if not isinstance(item, dict):
        return item
    dip = item.get("dip")
    level = DIP_LEVELS.index(dip) if dip in DIP_LEVELS else dip
    fell = int(item["fall"]) if isinstance(item.get("fall"), bool) else item.get("fall")
    return [level if n == "dip" else fell if n == "fall" else item.get(n) for n in _OBJECT_KEYS]


def closed_week_rows(value: Any) -> list[ClosedRow]:
    """The closed weeks' whole rows, checked, from their stored form: a short row is the
    week after the row before it (checked as plain tuples, quicker than named tuples)."""
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
    return _ROWS.validate_python(rows)


def closed_rows(weeks: Sequence[ClosedRow]) -> list[tuple[Any, ...]]:
    """The stored rows of the closed weeks: the row of the week after the row before it
    leaves out its week, and its zeros at the end (a week without a dip or a fall ends at
    its baseline)."""
    rows: list[tuple[Any, ...]] = []
    after: int | None = None
    for week in weeks:
        number, level, persistence, fell = week[0], week[5], week[6], week[7]
        if number != after:
            rows.append(week)
        else:  # without the week, and the zeros at the end (never the baseline)
            end = 8 if fell else 7 if persistence else 6 if level else 5
            rows.append(week[1:end])
        after = number + 1
    return rows


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


class _Assignment(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def due(self) -> dt.date: ...
    @property
    def completed(self) -> bool: ...


def assignment_of(item: Any) -> Any:
    """An assignment stored as a row, `[kind, due]` (earlier releases kept completed ones,
    ending in 1), as an object; an object still loads."""
    if isinstance(item, list):
        return dict(zip(("kind", "due", "completed"), item, strict=False))
    return item


def assignment_row(item: _Assignment) -> list[Any]:
    """The stored row of an assignment (`stream.core.state.AssignmentState`)."""
    due = item.due.isoformat()
    return [item.kind, due, 1] if item.completed else [item.kind, due]


class _Completion(Protocol):
    @property
    def object_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def due(self) -> dt.date: ...


def completion_of(item: Any) -> Any:
    """An assignment a completion closed, stored as a row, `[object id, kind, due]`, as an
    object."""
    if isinstance(item, list):
        return dict(zip(("object_id", "kind", "due"), item, strict=False))
    return item


def completion_row(item: _Completion) -> list[Any]:
    """The stored row of a completion (`stream.core.state.Completion`)."""
    return [item.object_id, item.kind, item.due.isoformat()]


def chase_of(item: Any) -> Any:
    """An overdue follow-up's chase stored as a row, `[reminded]` or `[reminded, 1]` once
    escalated, as an object."""
    if isinstance(item, list):
        return dict(zip(("reminded", "escalated"), item, strict=False))
    return item


class _Chase(Protocol):
    @property
    def reminded(self) -> dt.date: ...
    @property
    def escalated(self) -> bool: ...


def chase_row(item: _Chase) -> list[Any]:
    """The stored row of a chase (`stream.core.state.Chase`)."""
    day = item.reminded.isoformat()
    return [day, 1] if item.escalated else [day]
