"""Builders for timeline tests: whole weeks of activity, assignments and interventions.

Week 0 below is ISO week 2026-W02 (Monday 2026-01-05). With the default policy a week is
evaluated at the first midnight tick 6 hours after it closed: Tuesday 00:00 of the next week.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence

from schemas import Assignment, Intervention, LearnerProfile, LearningEvent, TierTransition
from schemas.history import Record
from stream.core.policy import Policy, parse_policy
from stream.core.step import Notice, Output
from stream.core.timeline import run_history
from stream.policyfile import load_policy

POLICY = load_policy()
UTC = dt.UTC
WEEK0 = dt.date(2026, 1, 5)
_ids = itertools.count()


def policy_with(**changes: object) -> Policy:
    """The default policy with some settings changed (a dict changes part of a section)."""
    data = POLICY.model_dump()
    for name, change in changes.items():
        data[name] = {**data[name], **change} if isinstance(change, dict) else change
    return parse_policy(data)


def day(week: int, weekday: int = 0) -> dt.date:
    """The date of a weekday (Monday = 0) in a test week."""
    return WEEK0 + dt.timedelta(days=7 * week + weekday)


def at(week: int, weekday: int = 0, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day(week, weekday), dt.time(hour, minute), tzinfo=UTC)


def evaluated(week: int) -> dt.datetime:
    """When week `week` is evaluated under the default policy: Tuesday 00:00 after it."""
    return dt.datetime.combine(day(week + 1, 1), dt.time(0), tzinfo=UTC)


def event(
    learner: str, when: dt.datetime, kind: str = "session", **fields: object
) -> LearningEvent:
    return LearningEvent.model_validate(
        {
            "id": f"e{next(_ids)}",
            "learner_id": learner,
            "occurred_at": when,
            "kind": kind,
            "object_id": fields.pop("object_id", "course-1"),
            "source": "test",
            **fields,
        }
    )


def weeks(learner: str, counts: Sequence[int], start: int = 0) -> list[LearningEvent]:
    """`counts[i]` events in week `start + i`, spread over the weekdays."""
    out = []
    for offset, n in enumerate(counts):
        for i in range(n):
            out.append(event(learner, at(start + offset, i % 5, 9 + i // 5)))
    return out


def profile(learner: str, role: str = "default", **flags: object) -> LearnerProfile:
    return LearnerProfile.model_validate(
        {"learner_id": learner, "role": role, "manager_id": "m1", "team": "t1", **flags}
    )


def assignment(
    learner: str, module: str, kind: str, due: dt.date, assigned: dt.datetime
) -> Assignment:
    return Assignment.model_validate(
        {
            "learner_id": learner,
            "module_id": module,
            "kind": kind,
            "due": due,
            "assigned_at": assigned,
        }
    )


def intervention(learner: str, kind: str, when: dt.datetime) -> Intervention:
    return Intervention.model_validate({"learner_id": learner, "kind": kind, "at": when})


def ordered(records: Iterable[Record]) -> list[Record]:
    """Records in time order (profiles first), as a history file would hold them."""
    start = dt.datetime.min.replace(tzinfo=UTC)

    def key(r: Record) -> dt.datetime:
        for name in ("occurred_at", "assigned_at", "at"):
            value = getattr(r, name, None)
            if isinstance(value, dt.datetime):
                return value
        return start

    return sorted(records, key=key)


def run(
    records: Iterable[Record], until_week: int, policy: Policy = POLICY
) -> list[TierTransition]:
    """The transitions of a history, ticking until week `until_week` has been evaluated."""
    return [o for o in run_all(records, until_week, policy) if isinstance(o, TierTransition)]


def run_all(records: Iterable[Record], until_week: int, policy: Policy = POLICY) -> list[Output]:
    return list(run_history(ordered(records), policy, evaluated(until_week)))


def notices(outputs: Iterable[Output]) -> list[str]:
    return [o.code for o in outputs if isinstance(o, Notice)]


def moves(transitions: Iterable[TierTransition]) -> list[tuple[int, int]]:
    return [(t.from_tier, t.to_tier) for t in transitions]


def codes(transition: TierTransition) -> list[str]:
    return [r.code for r in transition.reasons]
