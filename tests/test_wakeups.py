"""A timeline that steps only the learners its wake-up index names gives the same outputs,
in the same order, and the same states as one that steps every learner at every tick.

(`tests.test_wakeups_worker` drives the same index as the worker does.)"""

from __future__ import annotations

import copy
import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from schemas.clock import Tick
from schemas.events import LearningEvent, Retracted
from schemas.history import Record
from schemas.reminders import FollowUpOverdue
from schemas.transitions import TierTransition
from stream.core.policy import Policy
from stream.core.timeline import Timeline, record_time, schedule
from stream.sim.simulate import simulate
from tests.kit import (
    POLICY,
    assignment,
    at,
    codes,
    day,
    evaluated,
    event,
    ordered,
    policy_with,
    profile,
    weeks,
)
from tests.test_due import richer
from tests.test_due_policies import SOME, policies, timed
from tests.test_due_policies import histories as due_histories
from tests.test_properties import FAST


def as_learner(records: list[Record], learner_id: str) -> list[Record]:
    return [r.model_copy(update={"learner_id": learner_id}) for r in records]


def compare(records: list[Record], until: dt.datetime | None) -> None:
    """Feed both timelines the same inputs; after every input, outputs and states agree."""
    skipping, everyone = Timeline(POLICY), Timeline(POLICY, skip_quiet=False)
    for item in schedule(records, POLICY, until):
        assert skipping.feed(item) == everyone.feed(item), item
        assert list(skipping.states) == list(everyone.states)
        for learner_id, state in skipping.states.items():
            assert state == everyone.states[learner_id], (learner_id, item)


@FAST
@given(richer(), richer(), st.booleans(), st.data())
def test_skipping_quiet_learners_changes_nothing(
    first: tuple[list[Record], int],
    second: tuple[list[Record], int],
    third_late: bool,
    data: st.DataObject,
) -> None:
    """Two generated learners (interventions, late assignments, assessment falls), a third
    whose first record comes mid-history, and a fourth with a profile alone until an event
    of theirs sets a first week to evaluate."""
    records = as_learner(first[0], "p") + as_learner(second[0], "q")
    last = max(first[1], second[1])
    if third_late:
        records.append(event("r", at(last // 2, 3, 10), "session"))
    week, weekday = data.draw(st.integers(0, last)), data.draw(st.integers(0, 6))
    records = ordered([*records, event("s", at(week, weekday, 10))])
    joined = at(data.draw(st.integers(0, week)), data.draw(st.integers(0, 6)), 9)
    compare(arriving(records, profile("s"), joined), evaluated(last + 3))


def arriving(records: list[Record], record: Record, when: dt.datetime) -> list[Record]:
    """`record` (a profile: no time of its own) placed among `records` at `when`."""
    later = (n for n, r in enumerate(records) if (record_time(r) or when) > when)
    n = next(later, len(records))
    return [*records[:n], record, *records[n:]]


def test_a_simulated_team_gives_the_same_and_most_learners_are_skipped() -> None:
    records = list(simulate(60, 10, seed=5, policy=POLICY))
    skipping = Timeline(POLICY)
    stepped = 0
    assert skipping.wakeups is not None
    take = skipping.wakeups.take

    def counting(now: dt.datetime) -> list[str]:
        nonlocal stepped
        taken = take(now)
        stepped += len(taken)
        return taken

    skipping.wakeups.take = counting  # type: ignore[method-assign,assignment]
    everyone = Timeline(POLICY, skip_quiet=False)
    ticks = 0
    chased: set[str] = set()
    for item in schedule(records, POLICY):
        out = skipping.feed(item)
        assert out == everyone.feed(item), item
        ticks += isinstance(item, Tick)
        chased.update(o.step for o in out if isinstance(o, FollowUpOverdue))
    assert skipping.states == everyone.states
    assert stepped < ticks * len(everyone.states) / 3  # most days nothing is due
    assert chased == {"reminder", "escalation"}  # overdue follow-ups were woken for alike


def test_states_given_at_the_start_are_stepped_at_the_first_tick() -> None:
    source = Timeline(POLICY, skip_quiet=False)
    for record in [event("p", at(0, 1, 9)), event("q", at(0, 2, 9))]:
        source.feed(record)
    states = {k: copy.deepcopy(s) for k, s in source.states.items()}
    resumed = Timeline(POLICY, states)
    assert resumed.wakeups is not None
    assert resumed.wakeups.take(evaluated(0)) == ["p", "q"]


@SOME
@given(policies(), due_histories(), st.sampled_from([5, 24]), st.data())
def test_skipping_changes_nothing_under_other_policies_gaps_and_repeated_ticks(
    policy: Policy, history: tuple[list[Record], int], hours: int, data: st.DataObject
) -> None:
    """Other time zones, graces, windows and follow-ups (`tests.test_due_policies`), ticks
    every few hours, a run of ticks missed (a worker down) and a tick given twice."""
    records, last = history
    items = timed(records, at(last + 3), hours)
    ticks = [n for n, item in enumerate(items) if isinstance(item, Tick)]
    first = data.draw(st.integers(0, len(ticks) - 1))
    missed = set(ticks[first : first + data.draw(st.integers(0, 12))])
    twice = data.draw(st.sampled_from(ticks))
    skipping, everyone = Timeline(policy), Timeline(policy, skip_quiet=False)
    for n, item in enumerate(items):
        if n in missed:
            continue
        for _ in range(2 if n == twice else 1):
            assert skipping.feed(item) == everyone.feed(item), (policy.timezone, item)
            assert skipping.states == everyone.states, (policy.timezone, item)


def test_a_follow_up_that_found_nothing_is_armed_again_in_the_same_tick() -> None:
    """A 14-day follow-up after two missed milestones (both then completed) finds nothing
    in the outreach's week, but a later closed week holds Tier 2 still: the follow-up is
    armed again at once, so a learner skipped until their next week close escalates on
    the same day as one stepped every day."""
    policy = policy_with(follow_up={"days": 14})
    records = [profile("p"), *weeks("p", [10, 10, 10, 10, 4, 5, 10])]
    records += [assignment("p", f"m{i}", "milestone", day(4, 0), at(0)) for i in range(2)]
    records += [event("p", at(4, 2, 12), "completion", object_id=f"m{i}") for i in range(2)]
    records += [assignment("p", f"n{i}", "milestone", day(7, 0), at(6)) for i in range(2)]
    records += weeks("p", [10, 10], start=7)
    skipping, everyone = Timeline(policy), Timeline(policy, skip_quiet=False)
    escalations = []
    for item in schedule(ordered(records), policy, evaluated(10)):
        out = skipping.feed(item)
        assert out == everyone.feed(item), item
        escalations += [o for o in out if isinstance(o, TierTransition) and o.to_tier == 3]
    assert [codes(t)[0] for t in escalations] == ["follow_up_unresolved"]


def test_duties_overdue_past_the_window_are_skipped_alike() -> None:
    """
    A compliance module due Mon W1 (late: completed Wed W9, a day before its week's
    evaluation), a certification due Mon W1 never done, a milestone due Mon W1 that stops
    counting after 30 days, and the compliance module's assignment sent again on Thu W10
    (still done). Whoever is skipped, every input leaves the same outputs and states; the
    certification is all the learner's state still holds.
    """
    records = [
        profile("p", "back_office"),
        *weeks("p", [5] * 14),
        assignment("p", "k1", "compliance", day(1, 0), at(0)),
        assignment("p", "c1", "certification", day(1, 0), at(0)),
        assignment("p", "m1", "milestone", day(1, 0), at(0)),
        event("p", at(9, 2, 15), "completion", object_id="k1"),
        assignment("p", "k1", "compliance", day(1, 0), at(10, 3)),
    ]
    compare(ordered(records), evaluated(14))
    everyone = Timeline(POLICY, skip_quiet=False)
    for item in schedule(ordered(records), POLICY, evaluated(14)):
        everyone.feed(item)
    assert list(everyone.states["p"].assignments) == ["c1"]  # k1 done, m1 no longer counts


@FAST
@given(richer(), st.data())
def test_skipping_changes_nothing_when_events_are_voided(
    history: tuple[list[Record], int], data: st.DataObject
) -> None:
    """Some of a generated learner's events voided, each some days after it (its week still
    open, or evaluated and maybe in the baseline): skipping quiet learners changes nothing."""
    records, last = history
    events = [r for r in records if isinstance(r, LearningEvent)]
    chosen = (
        data.draw(st.lists(st.sampled_from(events), max_size=6, unique_by=id)) if events else []
    )
    voids = []
    for target in chosen:
        later = target.occurred_at + dt.timedelta(days=data.draw(st.integers(0, 20)), hours=1)
        voids.append(
            LearningEvent(
                id=f"void-{target.id}",
                learner_id=target.learner_id,
                occurred_at=later,
                kind="voided",
                object_id=target.id,
                source="test",
                retracts=Retracted(
                    id=target.id, occurred_at=target.occurred_at, score=target.score
                ),
            )
        )
    compare(ordered([*records, *voids]), evaluated(last + 3))


@FAST
@given(richer(), st.data())
def test_a_leaving_record_wakes_the_learner_as_stepping_everyone_does(
    history: tuple[list[Record], int], data: st.DataObject
) -> None:
    """A generated learner whose profile records a leaving on some day of the history, the
    profile arriving before or after that day: the index steps them as ticks over everyone
    do (the day after the leaving ends the episode; nothing is judged after it)."""
    records, last = history
    left = day(data.draw(st.integers(0, last + 1)), data.draw(st.integers(0, 6)))
    joined = at(data.draw(st.integers(0, last + 1)), data.draw(st.integers(0, 6)), 9)
    leaving = profile("p", left_on=left, left_voluntarily=data.draw(st.booleans()))
    compare(arriving(ordered(as_learner(records, "p")), leaving, joined), evaluated(last + 3))
