"""The simulator's cast: who each simulated learner is, and what their story is.

Learner i takes entry i % 20 of a fixed cycle (half of them steady), so 40 learners show
every persona and adding learners never changes anyone else. A persona's story happens
around week `weeks // 2`, after a baseline of at least three steady weeks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from schemas.roster import AssignmentKind, InterventionKind

MIN_STORY_WEEKS = 6  # shorter runs are plain activity
DAY = 86_400
HOUR = 3_600
STRONG = 2.0  # activity factor meaning "base + 2": a strong week
_NOTE = "Mentioned a family health issue; agreed to lighten the learning load for a while."

Flags = tuple[bool | None, bool | None, bool | None]  # customer-facing, compliance, leadership
NO_FLAGS: Flags = (None, None, None)
# (persona, role, exposure overrides): learner i takes entry i % 20
CYCLE: tuple[tuple[str, str, Flags], ...] = (
    ("steady", "default", NO_FLAGS),
    ("one_week_dip", "default", NO_FLAGS),
    ("steady", "sales_rep", NO_FLAGS),
    ("two_week_decline", "default", NO_FLAGS),
    ("steady", "back_office", NO_FLAGS),
    ("silent", "default", NO_FLAGS),
    ("steady", "compliance_officer", NO_FLAGS),
    ("missed_compliance", "back_office", NO_FLAGS),
    ("steady", "team_lead", NO_FLAGS),
    ("sales_rep_missing_certifications", "sales_rep", NO_FLAGS),
    ("steady", "default", (True, None, None)),  # customer-facing without the sales role
    ("assessment_fall", "compliance_officer", NO_FLAGS),
    ("steady", "sales_rep", NO_FLAGS),
    ("concern_raised", "team_lead", NO_FLAGS),
    ("steady", "back_office", NO_FLAGS),
    ("recovery_after_nudge", "back_office", NO_FLAGS),
    ("steady", "default", NO_FLAGS),
    ("new_hire", "sales_rep", NO_FLAGS),
    ("steady", "team_lead", (None, None, False)),  # a team lead outside the pipeline
    ("new_hire", "default", NO_FLAGS),
)
PERSONAS: tuple[str, ...] = tuple(dict.fromkeys(persona for persona, _, _ in CYCLE))


class Task(NamedTuple):
    """A persona's own assignment: assigned at 08:xx on (week, day), due (week, day)."""

    module: str
    kind: AssignmentKind
    week: int
    day: int
    due_week: int
    due_day: int
    done_week: int | None  # None: never completed


class Note(NamedTuple):
    """A manager's intervention at a second of a week."""

    week: int
    second: int
    kind: InterventionKind
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Story:
    """What a persona does differently from a steady learner, week by week."""

    start: int = 0  # first week with any record
    start_day: int = 0  # first weekday of activity in the start week
    factors: dict[int, float] = field(default_factory=dict)  # activity against the usual
    fall_week: int | None = None  # the week of a fallen assessment score
    weekly_assessments: bool = False  # otherwise every other week
    tasks: tuple[Task, ...] = ()
    notes: tuple[Note, ...] = ()
    routine_kind: AssignmentKind | None = None  # overrides the role's routine assignment kind


def story_of(persona: str, weeks: int) -> Story:
    """What a persona does, around week p = weeks // 2 (after a baseline of >= 3 weeks)."""
    p = weeks // 2
    late = p + 1 if p + 1 < weeks else None
    if persona == "new_hire":  # starts on a Wednesday, onboarding done the week after
        s, done = weeks // 3, (weeks // 3 + 1 if weeks // 3 + 1 < weeks else None)
        onboarding = (
            Task("onboarding-essentials", "milestone", s, 2, s + 2, 4, done),
            Task("code-of-conduct", "compliance", s, 2, s + 2, 4, done),
        )
        return Story(start=s, start_day=2, tasks=onboarding)
    if weeks < MIN_STORY_WEEKS:
        return Story()
    match persona:
        case "one_week_dip":
            return Story(factors={p: 0.6})
        case "two_week_decline":
            talk = Note(p + 2, 3 * DAY + 10 * HOUR, "conversation_held")
            return Story(factors={p: 0.5, p + 1: 0.3}, notes=(talk,))
        case "silent":
            return Story(factors={w: 0.0 for w in range(p, min(weeks, p + 6))})
        case "missed_compliance":
            task = Task("compliance-annual-refresher", "compliance", p - 2, 0, p - 1, 4, None)
            return Story(tasks=(task,), routine_kind="milestone")
        case "sales_rep_missing_certifications":  # both done late, a week after the second
            cert_a = Task("certification-product-a", "certification", p - 2, 0, p - 1, 4, late)
            cert_b = Task("certification-product-b", "certification", p - 2, 0, p, 2, late)
            return Story(tasks=(cert_a, cert_b))
        case "assessment_fall":
            return Story(fall_week=p, weekly_assessments=True)
        case "concern_raised":  # a dip, then the concern comes out; resolved 3 weeks later
            notes = [Note(p, 2 * DAY + 11 * HOUR, "concern_raised", _NOTE)]
            if p + 3 < weeks:
                notes.append(Note(p + 3, 3 * DAY + 15 * HOUR, "resolved"))
            return Story(factors={p - 1: 0.6}, notes=tuple(notes))
        case "recovery_after_nudge":
            return Story(factors={p: 0.3, p + 1: STRONG})
    return Story()  # steady
