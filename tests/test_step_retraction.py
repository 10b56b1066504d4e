"""A voided event (an xAPI voiding statement) takes back what the event it names gave: its
open week's counts, its share of the baseline later weeks are compared with, its score.
Transitions already emitted stay; a retraction repeated, or of an event unknown, changes
nothing and is counted."""

from __future__ import annotations

import datetime as dt

from schemas import LearningEvent
from stream.core.state import LearnerState
from stream.core.step import Notice, step
from stream.core.timeline import Timeline, schedule
from stream.core.weeks import week_of_date
from tests.kit import POLICY, assignment, at, day, evaluated, event, ordered, profile, weeks

TEN = [10, 10, 10, 10]


def void(target: LearningEvent, when: dt.datetime, score: float | None = None) -> LearningEvent:
    """The voiding of `target`, sent at `when`."""
    return LearningEvent.model_validate(
        {
            "id": f"void-{target.id}",
            "learner_id": target.learner_id,
            "occurred_at": when,
            "kind": "voided",
            "object_id": target.id,
            "source": "test",
            "retracts": {
                "id": target.id,
                "occurred_at": target.occurred_at,
                "score": score,
                "completed": target.object_id if target.kind == "completion" else None,
            },
        }
    )


def replay(records: list, until_week: int, in_order: bool = False) -> tuple[LearnerState, list]:
    """The learner's state and outputs, the records sorted by time (unless `in_order`)."""
    timeline = Timeline(POLICY)
    items = schedule(records if in_order else ordered(records), POLICY, evaluated(until_week))
    out = [o for item in items for o in timeline.feed(item)]
    return timeline.states["p"], out


def notices(out: list) -> list[tuple[str, str]]:
    return [(o.code, o.detail) for o in out if isinstance(o, Notice) and "retract" in o.code]


def test_voided_events_of_the_open_week_do_not_count_when_it_closes():
    """
    week      0   1   2   3   4
    events   10  10  10  10  10, six of them voided before the week closes
    counted  10  10  10  10   4   -> a drop of 60%: Tier 1 at week 4's evaluation
    """
    history = [profile("p"), *weeks("p", [*TEN, 10])]
    week4 = [e for e in history if isinstance(e, LearningEvent) and e.occurred_at >= at(4)]
    voids = [void(e, at(4, 5, 12)) for e in week4[:6]]
    state, out = replay([*history, *voids], 4)
    assert state.closed_weeks[-1].events == 4
    assert [t.to_tier for t in out if hasattr(t, "to_tier")] == [1]
    assert notices(out) == [("retracted", "open week")] * 6
    _, kept = replay(history, 4)
    assert [t for t in kept if hasattr(t, "to_tier")] == []


def test_voided_events_of_a_closed_week_leave_the_baseline():
    """
    week       0   1   2   3   |  week 4 open: week 1's three voided events leave the baseline
    baseline  10  10  10  10   ->  10   7  10  10   (the closed week's own row stays as it was)
    """
    history = [profile("p"), *weeks("p", TEN)]
    week1 = [e for e in history if isinstance(e, LearningEvent) and at(1) <= e.occurred_at < at(2)]
    voids = [void(e, at(4, 1)) for e in week1[:3]]
    state, out = replay([*history, *voids], 3)
    assert state.baseline_window == [10, 7, 10, 10]
    assert state.closed_weeks[1].events == 10
    assert notices(out) == [("retracted", "baseline")] * 3


def test_a_retraction_repeated_or_before_its_event_counts_once():
    """At-least-once: the same voiding twice takes back once; the voided event sent again
    (or first after its voiding) is not counted."""
    first = event("p", at(0, 1))
    second = event("p", at(0, 2))
    voiding = void(first, at(0, 3))
    state, out = None, []
    for record in (first, second, voiding, voiding, first):
        state, produced = step(state, record, POLICY)
        out.extend(produced)
    assert state is not None
    bucket = state.open_weeks[min(state.open_weeks)]
    assert (bucket.events, bucket.days.bit_count()) == (1, 1)
    codes = [o.code for o in out if isinstance(o, Notice)]
    assert codes == ["retracted", "duplicate", "duplicate"]
    later = void(second, at(0, 4))
    early, _ = step(None, later, POLICY)  # its event not seen yet: nothing to take back
    early, produced = step(early, second, POLICY)
    assert not any(b.events for b in early.open_weeks.values())
    assert [o.code for o in produced] == ["duplicate"]


def test_a_voiding_of_an_unknown_or_late_event_changes_nothing_and_says_so():
    """Nothing known of the event, or it came after its week was evaluated (it never
    counted): nothing is taken back; a notice says why."""
    history = [profile("p"), *weeks("p", TEN)]
    unknown = void(event("p", at(4, 0)), at(4, 1))
    late = event("p", at(1, 2), id="late-one")
    voided_late = void(late, at(4, 2))
    state, out = replay([*history, unknown, late, voided_late], 4, in_order=True)
    assert state.baseline_window == TEN
    assert notices(out) == [("not_retracted", "unknown"), ("not_retracted", "late")]


def test_a_voided_score_leaves_the_scores_later_ones_are_compared_with():
    """A low score voided: the fall it caused stays (Tier 1), the score is no longer one of
    the previous scores."""
    scores = [event("p", at(0, d), "assessment", score=s) for d, s in ((0, 0.9), (1, 0.9))]
    low = event("p", at(0, 2), "assessment", score=0.3)
    state, out = replay([profile("p"), *scores, low, void(low, at(0, 3), score=0.3)], 0)
    assert state.scores == [0.9, 0.9]
    assert [t.to_tier for t in out if hasattr(t, "to_tier")][:1] == [1]
    assert not state.closed_weeks[0].fall


def test_a_voided_event_coming_after_its_voiding_leaves_no_open_week_behind():
    """
    week      0   1              2 3 4
    records   .   voiding, then its event (not counted)   5 events in week 3
    The voided event makes no week of its own: evaluation starts at week 3, and nothing
    is left open once week 4 is evaluated.
    """
    early = event("p", at(1, 2))
    records = [void(early, at(1, 3)), early, *weeks("p", [5], start=3)]
    state, _ = replay(records, 4, in_order=True)
    assert state.first_week == week_of_date(day(3))
    assert state.open_weeks == {}


def test_a_voided_completion_coming_after_its_voiding_does_not_complete_the_duty():
    """The completion was taken back before it came: the compliance module is still to do."""
    duty = assignment("p", "mod-1", "compliance", day(2), at(0))
    done = event("p", at(1, 2), "completion", object_id="mod-1")
    state, out = None, []
    for record in (profile("p"), duty, void(done, at(1, 3)), done):
        state, produced = step(state, record, POLICY)
        out.extend(produced)
    assert state is not None
    assert "mod-1" in state.assignments
    assert [o.code for o in out if isinstance(o, Notice)] == ["not_retracted", "duplicate"]


def test_a_state_with_every_retraction_and_late_key_it_keeps_stays_under_6_kib():
    """Voiding is rare: 128 retractions and 128 late events are remembered, the oldest
    forgotten beyond; a state holding both in full is stored in under 6 KiB of JSON."""
    state = LearnerState(learner_id="p", evaluated_week=week_of_date(day(9)))
    for i in range(300):
        state, _ = step(state, event("p", at(9, i % 7), id=f"late-{i}"), POLICY)
        state, _ = step(state, void(event("p", at(10, i % 7), id=f"gone-{i}"), at(10)), POLICY)
    assert len(state.late_keys) == len(state.retracted) == 128
    assert len(state.model_dump_json(exclude_defaults=True)) < 6 * 1024


def test_a_redelivery_after_its_week_was_evaluated_is_late_and_then_not_taken_back():
    """A known limit (README): an event delivered again after its week was evaluated (a
    crash between processing it and committing it) is taken as late, and a voiding of it
    then takes nothing off the baseline."""
    history = [profile("p"), *weeks("p", TEN)]
    target = [e for e in history if isinstance(e, LearningEvent)][-1]  # week 3
    state, _ = replay(history, 3)
    outcomes = []
    for record in (target, void(target, at(4, 1))):
        state, out = step(state, record, POLICY)
        outcomes.extend((o.code, o.detail) for o in out if isinstance(o, Notice))
    assert outcomes == [("late_event", "2026-W05"), ("not_retracted", "late")]
    assert state.baseline_window == TEN
