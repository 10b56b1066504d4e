"""The three signals, each a pure function of aggregates: activity, deadlines, assessments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from schemas.roster import AssignmentKind
from stream.core.policy import Activity, Assessments, Assignments
from stream.core.state import AssignmentState, DipLevel


class Dip(NamedTuple):
    """How a closed week's activity compares with the learner's baseline (a named tuple:
    one is made for every learner at every week close)."""

    level: DipLevel
    activity: int
    baseline: float | None  # None when there is not yet a usable baseline
    drop: float  # 1 - activity / baseline, 0 without a baseline


def baseline(window: list[int], rules: Activity) -> float | None:
    """The mean of the recent non-dip weeks, or None when no dip can be raised against it."""
    recent = window[-rules.baseline_weeks :]
    if len(recent) < rules.min_baseline_weeks:
        return None
    mean = sum(recent) / len(recent)
    return mean if mean >= rules.min_baseline_events else None


def classify_week(activity: int, window: list[int], rules: Activity) -> Dip:
    """Whether a week is a dip against the baseline of `window`, and how deep."""
    base = baseline(window, rules)
    if base is None:
        return Dip("none", activity, None, 0.0)
    drop = 1.0 - activity / base
    if activity >= rules.dip_below * base:
        return Dip("none", activity, base, drop)
    return Dip("major" if drop > rules.major_drop else "minor", activity, base, drop)


@dataclass(frozen=True, slots=True)
class Fall:
    """An assessment result that counts as a fall, and why."""

    score: float | None
    previous_mean: float | None
    previous_count: int
    failed: bool


def assessment_fall(
    previous: list[float], score: float | None, success: bool | None, rules: Assessments
) -> Fall | None:
    """A fall: a score `fall` below the mean of the previous scores, or a failed assessment."""
    recent = previous[-rules.previous_scores :]
    mean = sum(recent) / len(recent) if recent else None
    failed = success is False and rules.failed_is_fall
    dropped = (
        score is not None
        and mean is not None
        and len(recent) >= rules.min_previous_scores
        # rounded so that 0.70 - 0.55 counts as the 0.15 it is meant to be
        and round(mean - score, 9) >= rules.fall
    )
    if not (failed or dropped):
        return None
    return Fall(score, mean, len(recent), failed)


class Missed(NamedTuple):
    """Assignments missed and still counting on a given day (made at every tick)."""

    by_kind: dict[AssignmentKind, int]
    compliance_overdue_days: int  # the longest overdue compliance module, 0 if none

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


def missed_assignments(
    assignments: Iterable[AssignmentState],
    today: dt.date,
    rules: Assignments,
    missed_after: dt.date | None = None,
) -> Missed:
    """Count missed assignments on `today`.

    An assignment is missed once its due day has ended. A duty (a kind in
    `until_completed`: compliance, certification) counts until completed, its overdue days
    growing; another (a milestone) until completed or `counting_days` after its due date.
    With `missed_after`, only assignments that became missed after that day count
    (evidence already dealt with is spent).
    """
    by_kind: dict[AssignmentKind, int] = {}
    longest = 0
    lasting, window = rules.until_completed, rules.counting_days
    for item in assignments:
        if item.completed:
            continue
        overdue = (today - item.due).days
        if overdue < 1 or (overdue > window and item.kind not in lasting):
            continue
        if missed_after is not None and item.due < missed_after:
            continue
        by_kind[item.kind] = by_kind.get(item.kind, 0) + 1
        if item.kind == "compliance":
            longest = max(longest, overdue)
    return Missed(by_kind, longest)
