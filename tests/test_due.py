"""`quiet_until`, and the wake-up index built on it: a tick the index lets a learner sleep
through changes nothing, over generated and simulated histories."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from schemas.clock import Tick
from schemas.events import LearningEvent
from schemas.history import Record
from stream.core.due import quiet_until
from stream.core.state import LearnerState
from stream.core.step import step
from stream.core.timeline import schedule
from stream.core.wakeups import WakeIndex, plain
from stream.core.weeks import week_of_date
from stream.sim.simulate import simulate
from tests.kit import (
    POLICY,
    assignment,
    at,
    day,
    evaluated,
    intervention,
    ordered,
    profile,
    weeks,
)
from tests.test_properties import FAST, KINDS, histories
from tests.test_step_retraction import void


def checked_run(records: list[Record], until: dt.datetime | None) -> tuple[int, int]:
    """Feed records and midnight ticks, keeping a `WakeIndex` told of every record; at
    every tick step every learner, and check that those the index leaves asleep do not
    change (nor does their tier as the index has it). Return (ticks skipped, ticks
    evaluated)."""
    states: dict[str, LearnerState] = {}
    index = WakeIndex(POLICY)
    skipped = evaluated_ = 0
    for item in schedule(records, POLICY, until):
        if not isinstance(item, Tick):
            state, _ = step(states.get(item.learner_id), item, POLICY)
            states[item.learner_id] = state
            index.recorded(item.learner_id, state, plain(item))
            continue
        due = index.take(item.now)
        assert due == [k for k in states if k in due]  # in the order first seen
        for learner_id, state in states.items():
            before = state.model_dump_json()
            state, outputs = step(state, item, POLICY)
            if learner_id not in due:
                skipped += 1
                assert outputs == [], (learner_id, item.now)
                assert state.model_dump_json() == before, (learner_id, item.now)
                assert index.tier(learner_id) == state.tier
            else:
                evaluated_ += 1
                index.stepped(learner_id, state, item.now)
    return skipped, evaluated_


@st.composite
def richer(draw: st.DrawFn) -> tuple[list[Record], int]:
    """The property tests' histories, plus interventions, assignments that arrive late
    (assigned after their due day, or mid-history) and voidings (a voided completion
    reopens its assignment) up to three weeks after the event they void."""
    records, last_week = draw(histories())
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["conversation_held", "concern_raised", "resolved"]))
        when = at(draw(st.integers(0, last_week)), draw(st.integers(0, 6)), 15)
        records.append(intervention("p", kind, when))
    for i in range(draw(st.integers(0, 2))):
        assigned = at(draw(st.integers(0, last_week)), draw(st.integers(0, 6)), 9)
        due = day(draw(st.integers(0, last_week + 1)), draw(st.integers(0, 6)))
        records.append(assignment("p", f"late{i}", draw(KINDS), due, assigned))
    events = [r for r in records if isinstance(r, LearningEvent)]
    for target in draw(st.lists(st.sampled_from(events), max_size=3, unique_by=id)):
        after = dt.timedelta(hours=draw(st.integers(1, 21 * 24)))
        records.append(void(target, target.occurred_at + after, target.score))
    return records, last_week


@FAST
@given(richer())
def test_a_tick_before_quiet_until_changes_nothing(history: tuple[list[Record], int]) -> None:
    records, last_week = history
    checked_run(ordered(records), evaluated(last_week + 3))


def test_over_a_simulated_team_most_ticks_are_quiet() -> None:
    records = list(simulate(120, 14, seed=3, policy=POLICY))
    skipped, evaluated_ = checked_run(records, None)
    assert skipped > 3 * evaluated_  # six days in seven have nothing due for most learners


def test_the_dates_that_end_a_quiet_spell() -> None:
    state, _ = step(None, profile("p"), POLICY)
    assert quiet_until(state, at(0, 2, 0), POLICY) is None  # nothing dated: no evaluation
    records = [assignment("p", "m1", "compliance", day(1, 3), at(0))]
    for record in records:
        state, _ = step(state, record, POLICY)
    now = dt.datetime.combine(day(0, 2), dt.time(0), tzinfo=dt.UTC)
    # the week of the assignment (week 0) can be evaluated 6 hours after it closes ...
    closes = dt.datetime.combine(day(1, 0), dt.time(6), tzinfo=dt.UTC)
    assert quiet_until(state, now, POLICY) == closes
    state.evaluated_week = week_of_date(day(1))
    # ... and once week 1 is evaluated, the next change is the day after the due day
    later = dt.datetime.combine(day(1, 3), dt.time(0), tzinfo=dt.UTC)
    assert quiet_until(state, later, POLICY) == dt.datetime.combine(
        day(1, 4), dt.time(0), tzinfo=POLICY.tz
    )


def test_a_completed_duty_stored_by_the_previous_release_wakes_its_learner_to_prune_it() -> None:
    """`[compliance, due, 1]` (stored before duties counted until completed) is pruned
    after its counting window: the index wakes the learner that day, so a tick it skips
    changes nothing."""
    state, _ = step(None, profile("p"), POLICY)
    for record in weeks("p", [1] * 5):
        state, _ = step(state, record, POLICY)
    stored = state.model_dump(mode="json", exclude_defaults=True)
    stored["assignments"] = {"m": ["compliance", day(1).isoformat(), 1]}
    state = LearnerState.model_validate(stored)
    now = dt.datetime(2026, 2, 10, 6, tzinfo=dt.UTC)
    state, _ = step(state, Tick(now=now, partition=0), POLICY)
    wake = quiet_until(state, now, POLICY)
    window = day(1) + dt.timedelta(days=POLICY.assignments.counting_days + 1)
    assert wake is not None
    assert wake <= dt.datetime.combine(window, dt.time(0), tzinfo=POLICY.tz)
    before = state.model_dump_json()
    skipped = wake - dt.timedelta(minutes=1)
    state, _ = step(state, Tick(now=skipped, partition=0), POLICY)
    assert state.model_dump_json() == before
    state, _ = step(state, Tick(now=wake, partition=0), POLICY)
    assert state.assignments == {}


@FAST
@given(richer(), st.integers(0, 60), st.booleans())
def test_a_tick_before_quiet_until_changes_nothing_for_a_leaver(
    history: tuple[list[Record], int], days: int, voluntary: bool
) -> None:
    """The same, for a learner whose profile records a leaving `days` after week 0."""
    records, last_week = history
    leaving = profile("p", left_on=day(0) + dt.timedelta(days=days), left_voluntarily=voluntary)
    checked_run(ordered([*records, leaving]), evaluated(last_week + 3))
