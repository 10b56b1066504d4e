"""A voided completion reopens the assignment it closed, and a voided first activity moves
the first active week (where the baseline starts) on: what the voided event gave is taken
back, also once its week was evaluated."""

from __future__ import annotations

import orjson

from schemas import LearningEvent
from stream.core.completions import MAX_REOPENABLE
from stream.core.state import LearnerState
from stream.core.timeline import Timeline, schedule
from stream.core.weeks import week_of_date
from tests.kit import (
    assignment,
    at,
    day,
    evaluated,
    event,
    ordered,
    policy_with,
    profile,
    run,
    weeks,
)
from tests.test_step_retraction import notices, replay, void

TEN = [10, 10, 10, 10]


def done(module: str, week: int, weekday: int = 2) -> LearningEvent:
    return event("p", at(week, weekday), "completion", object_id=module)


def test_a_compliance_completion_voided_weeks_later_reopens_the_duty():
    """Completed in week 0, before its due day; voided in week 4: the duty is overdue since
    its due day (week 1), past the 14-day limit: Tier 3 through the missed compliance
    module at the next tick, as if it had never been completed."""
    duty = assignment("p", "mod-1", "compliance", day(1), at(0))
    completion = done("mod-1", 0)
    history = [profile("p"), *weeks("p", [*TEN, 10, 10]), duty, completion]
    assert run(history, 5) == []
    voiding = void(completion, at(4, 3))
    state, out = replay([*history, voiding], 5)
    assert "mod-1" in state.assignments
    assert notices(out) == [("retracted", "baseline")]  # it was activity too
    reopened = run([*history, voiding], 5)
    never = run([r for r in history if r is not completion], 5)
    assert reopened
    assert reopened[0].at > voiding.occurred_at  # the rise comes after it
    assert [t.to_tier for t in reopened][-1] == max(t.to_tier for t in never)


def test_a_voided_completion_reopens_what_came_first_the_assignment_or_the_completion():
    """The stream reads assignments and events in no fixed order: either way, the same
    state, and the voiding reopens the duty."""
    duty = assignment("p", "mod-1", "compliance", day(1), at(0))
    first = done("mod-1", 0, 1)
    late = duty.model_copy(update={"assigned_at": at(0, 2)})  # after its completion
    a, _ = replay([profile("p"), *weeks("p", TEN), duty, first], 3)
    b, _ = replay([profile("p"), *weeks("p", TEN), late, first], 3)
    assert a.completions == b.completions
    assert a.completed_objects == b.completed_objects
    for records in ([duty, first], [late, first]):
        state, _ = replay([profile("p"), *weeks("p", TEN), *records, void(first, at(2))], 3)
        assert state.assignments["mod-1"].due == day(1)


def test_a_voided_completion_does_not_reopen_what_was_withdrawn():
    """And a known limit: one of two completions of a module voided reopens it (README)."""
    duty = assignment("p", "mod-1", "compliance", day(1), at(0))
    first, again = done("mod-1", 0, 1), done("mod-1", 0, 3)
    state, _ = replay([profile("p"), *weeks("p", TEN), duty, first, again, void(first, at(2))], 3)
    assert "mod-1" in state.assignments  # the keys do not count completions
    withdrawn = duty.model_copy(update={"withdrawn": True, "assigned_at": at(1)})
    state, _ = replay(
        [profile("p"), *weeks("p", TEN), duty, first, withdrawn, void(first, at(2))], 3
    )
    assert "mod-1" not in state.assignments  # no longer to do
    assert state.completions == []


def test_an_assignment_sent_again_after_its_completion_stays_done_until_the_completion_is_voided():
    duty = assignment("p", "mod-1", "certification", day(3), at(0))
    completion = done("mod-1", 1)
    again = duty.model_copy(update={"assigned_at": at(2)})
    state, _ = replay([profile("p"), *weeks("p", TEN), duty, completion, again], 3)
    assert "mod-1" not in state.assignments
    state, _ = replay(
        [profile("p"), *weeks("p", TEN), duty, completion, again, void(completion, at(3))], 3
    )
    assert state.assignments["mod-1"].due == day(3)


def test_only_the_last_completions_that_closed_an_assignment_can_be_reopened():
    """Beyond the few assignments kept (those due latest), a completion is done for good
    (README: known limits); each row is stored in under 64 bytes."""
    modules = [f"mod-{i}" for i in range(MAX_REOPENABLE + 1)]
    duties = [assignment("p", m, "compliance", day(6), at(0)) for m in modules]
    completions = [done(m, 1, i % 5) for i, m in enumerate(modules)]
    records = [profile("p"), *weeks("p", TEN), *duties, *completions]
    state, _ = replay([*records, *(void(c, at(3)) for c in completions)], 3)
    assert sorted(state.assignments) == modules[1:]
    state, _ = replay(records, 3)
    stored = orjson.loads(state.model_dump_json(exclude_defaults=True))
    assert len(stored["completions"]) == MAX_REOPENABLE
    assert all(len(orjson.dumps(row)) < 64 for row in stored["completions"])
    assert LearnerState.model_validate(stored) == state


def test_a_milestones_row_leaves_with_its_counting_window():
    """A milestone past its counting window would not count reopened: its row goes when a
    tick passes the window, and its completion is remembered as done."""
    milestone = assignment("p", "ms-1", "milestone", day(0, 3), at(0))
    completion = done("ms-1", 0, 2)
    state, _ = replay([profile("p"), *weeks("p", [*TEN, 10, 10]), milestone, completion], 1)
    assert [c.object_id for c in state.completions] == ["ms-1"]
    state, _ = replay([profile("p"), *weeks("p", [*TEN, 10, 10]), milestone, completion], 5)
    assert state.completions == []
    again = milestone.model_copy(update={"assigned_at": at(5)})
    state, _ = replay([profile("p"), *weeks("p", [*TEN, 10, 10]), milestone, completion, again], 5)
    assert "ms-1" not in state.assignments


def test_the_first_activity_voided_while_its_week_is_open_moves_the_first_active_week():
    first = event("p", at(0, 1))
    records = [profile("p"), first, *weeks("p", [0, 0, *TEN], start=0)]
    state, _ = replay([*records, void(first, at(0, 4))], 0)
    assert state.first_active_week == week_of_date(day(2))


def test_the_first_activity_voided_after_its_week_was_evaluated_leaves_the_baseline():
    """A policy that compares a week with one week of one event: week 0's one event makes
    weeks 1 and 2 without activity dips. Voided in week 3, the baseline and the dip streak
    are what they would be without it, and week 3 is compared with nothing."""
    policy = policy_with(activity={"min_baseline_weeks": 1, "min_baseline_events": 1})
    first = event("p", at(0, 1))

    timeline = Timeline(policy)
    for item in schedule(ordered([profile("p"), first]), policy, evaluated(2)):
        timeline.feed(item)
    assert timeline.states["p"].persistence == 2
    assert timeline.states["p"].baseline_window == [1]
    timeline = Timeline(policy)
    out = []
    for item in schedule(
        ordered([profile("p"), first, void(first, at(3, 1))]), policy, evaluated(3)
    ):
        out.extend(timeline.feed(item))
    state = timeline.states["p"]
    assert notices(out) == [("retracted", "baseline")]
    assert state.first_active_week is None
    assert state.baseline_window == []
    assert state.persistence == 0
    assert state.closed_weeks[-1].dip == "none"


def test_a_later_active_week_becomes_the_first_and_keeps_its_baseline_entry():
    """Week 0's one event voided in week 4: week 1 is the first active week, and the
    baseline keeps weeks 1 to 3; the dip streak of weeks without activity after it stays."""
    first = event("p", at(0, 1))
    records = [profile("p"), first, *weeks("p", [5, 6, 7], start=1)]
    state, out = replay([*records, void(first, at(4, 1))], 3)
    assert notices(out) == [("retracted", "baseline")]
    assert state.first_active_week == week_of_date(day(1))
    assert state.baseline_window == [5, 6, 7]
