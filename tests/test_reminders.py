"""An overdue follow-up reminds the manager once, then is escalated once
(`stream.core.reminders`).

A sales rep (customer-facing: a 3-day follow-up) with 6 events a week, then none:

    week      0  1  2  3  4        5
    events    6  6  6  6  0        ...
    tier                  2 (Tue W5 00:00, week 4 evaluated; talk by Fri W5)
    Sat W5 00:00   talk_by + 1 day: the manager is reminded
    Tue W6 00:00   reminder + 3 days: the overdue follow-up is escalated
"""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from schemas.clock import Tick
from schemas.reminders import FollowUpOverdue
from schemas.roster import Intervention
from schemas.transitions import TierTransition
from stream.core.due import quiet_until
from stream.core.outputs import Notice
from stream.core.policy import PolicyError, parse_policy
from stream.core.reminders import reminder_id
from stream.core.state import LearnerState
from stream.core.step import step
from stream.core.timeline import Timeline, schedule
from stream.core.weeks import day_start
from tests.kit import POLICY, at, day, evaluated, ordered, policy_with, profile, weeks

DOWN = [6, 6, 6, 6, 0]
TALK_BY = day(5, 4)  # Friday of week 5: three days after the arrival


def midnight(date: dt.date) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(0), tzinfo=dt.UTC)


def arrived(after: list | None = None, policy=POLICY) -> tuple[Timeline, TierTransition]:
    """The learner's timeline just after the Tier 2 arrival (Tue W5 00:00)."""
    history = [profile("p", "sales_rep"), *weeks("p", DOWN), *(after or [])]
    timeline = Timeline(policy)
    out = []
    for item in schedule(ordered(history), policy, evaluated(4)):
        out.extend(timeline.feed(item))
    (rise,) = [t for t in out if isinstance(t, TierTransition) and t.to_tier == 2]
    assert rise.follow_up_due == TALK_BY == timeline.states["p"].talk_by
    return timeline, rise


def tick_days(timeline: Timeline, first: dt.date, last: dt.date) -> list:
    """Midnight ticks from `first` to `last`, both included: what they gave."""
    out, date = [], first
    while date <= last:
        out.extend(timeline.feed(Tick(now=midnight(date), partition=0)))
        date += dt.timedelta(days=1)
    return out


def overdue(out: list) -> list[tuple[str, dt.datetime]]:
    return [(o.step, o.at) for o in out if isinstance(o, FollowUpOverdue)]


def talk(when: dt.datetime, kind: str = "conversation_held", id: str = "i1") -> Intervention:
    return Intervention(learner_id="p", kind=kind, at=when, id=id)  # type: ignore[arg-type]


def test_the_manager_is_reminded_once_the_day_after_the_follow_up_date():
    """Nothing on the follow-up date itself; the reminder at the first tick the day after;
    nothing more until the escalation."""
    timeline, rise = arrived()
    assert overdue(tick_days(timeline, day(5, 2), TALK_BY)) == []
    out = tick_days(timeline, day(5, 5), day(5, 6))
    assert overdue(out) == [("reminder", midnight(day(5, 5)))]
    (reminder,) = [o for o in out if isinstance(o, FollowUpOverdue)]
    assert reminder.transition_id == rise.id
    assert reminder.id == reminder_id("p", rise.id, "reminder")
    assert (reminder.talk_by, reminder.reminded_on, reminder.tier) == (TALK_BY, None, 2)
    counted = [(n.detail, n.role, n.team) for n in out if isinstance(n, Notice)]
    assert counted == [("reminder", "sales_rep", "t1")]


def test_still_no_conversation_the_follow_up_is_escalated_once():
    """Three days after the reminder, the escalation, once, whatever the tier does next;
    the tier does not move for it (the week's own evidence moves it: Tier 3 at the
    follow-up, since week 5 is empty too)."""
    timeline, rise = arrived()
    out = tick_days(timeline, day(5, 2), day(8, 6))
    assert overdue(out) == [
        ("reminder", midnight(day(5, 5))),
        ("escalation", midnight(day(6, 1))),
    ]
    escalation = [o for o in out if isinstance(o, FollowUpOverdue)][1]
    assert escalation.id == reminder_id("p", rise.id, "escalation")
    assert escalation.transition_id == rise.id  # the arrival's, not the later Tier 3 move's
    assert escalation.reminded_on == day(5, 5)
    moves = [(t.from_tier, t.to_tier, t.at) for t in out if isinstance(t, TierTransition)]
    assert moves == [(2, 3, midnight(day(6, 1)))]  # the follow-up's, not the escalation's
    assert escalation.tier == 3


def test_a_conversation_after_the_reminder_cancels_the_escalation():
    timeline, _ = arrived()
    tick_days(timeline, day(5, 2), day(5, 5))
    assert timeline.feed(talk(at(5, 5, 9)))[0].detail == "late"
    assert timeline.states["p"].chased is None
    assert overdue(tick_days(timeline, day(5, 6), day(8, 6))) == []


def test_a_conversation_on_time_means_no_reminder():
    timeline, _ = arrived()
    timeline.feed(talk(at(5, 3, 9)))
    assert overdue(tick_days(timeline, day(5, 2), day(8, 6))) == []


def test_a_fall_below_tier_2_cancels_the_escalation_even_in_its_own_tick():
    """Week 5 back to 6 events: at Tue W6 00:00 the quiet week takes the tier to 1, in
    the very tick the escalation would have come: none comes."""
    timeline, _ = arrived(weeks("p", [6], start=5))
    out = tick_days(timeline, day(5, 2), day(6, 6))  # (later empty weeks: a new arrival)
    assert overdue(out) == [("reminder", midnight(day(5, 5)))]
    assert next((t.from_tier, t.to_tier) for t in out if isinstance(t, TierTransition)) == (2, 1)
    state = timeline.states["p"]
    assert (state.talk_by, state.talk_for, state.chased) == (None, None, None)


def test_resolved_before_the_reminder_cancels_both():
    timeline, _ = arrived()
    timeline.feed(talk(at(5, 3, 9), kind="resolved"))
    assert overdue(tick_days(timeline, day(5, 2), day(8, 6))) == []


def test_a_new_arrival_is_reminded_afresh_under_its_own_id():
    """Resolved after the escalation, then down again: the new arrival's chase starts over."""
    timeline, first = arrived()
    tick_days(timeline, day(5, 2), day(6, 2))
    timeline.feed(talk(at(6, 2, 9), kind="resolved"))
    for event in weeks("p", [6, 6, 6, 6, 0], start=7):
        timeline.feed(event)  # a baseline again from week 7, then an empty week 11
    out = tick_days(timeline, day(6, 3), day(13, 6))
    (rise,) = [t for t in out if isinstance(t, TierTransition) and t.to_tier == 2]
    reminders = [o for o in out if isinstance(o, FollowUpOverdue)]
    assert [(o.step, o.transition_id) for o in reminders] == [
        ("reminder", rise.id),
        ("escalation", rise.id),
    ]
    assert rise.id != first.id


def test_the_same_state_and_tick_give_the_same_reminder():
    """A tick processed again after a crash (its state not stored) gives the same output,
    the same id."""
    timeline, _ = arrived()
    tick_days(timeline, day(5, 2), day(5, 4))
    stored = timeline.states["p"].model_dump_json(exclude_defaults=True)
    tick = Tick(now=midnight(day(5, 5)), partition=0)
    _, once = step(LearnerState.model_validate_json(stored), tick, POLICY)
    _, again = step(LearnerState.model_validate_json(stored), tick, POLICY)
    assert once == again
    assert overdue(once) == [("reminder", tick.now)]


def test_the_chase_is_stored_as_a_short_row_and_loads_back():
    """`chased`: `[reminded]`, then `[reminded, 1]`; the arrival's id only once another
    transition followed it."""
    timeline, rise = arrived()
    state = timeline.states["p"]
    assert "talk_for" not in orjson.loads(state.model_dump_json(exclude_defaults=True))
    tick_days(timeline, day(5, 2), day(5, 5))
    stored = orjson.loads(state.model_dump_json(exclude_defaults=True))
    assert stored["chased"] == [day(5, 5).isoformat()]
    assert LearnerState.model_validate(stored) == state
    tick_days(timeline, day(5, 6), day(6, 1))
    stored = orjson.loads(state.model_dump_json(exclude_defaults=True))
    assert stored["chased"] == [day(5, 5).isoformat(), 1]
    assert stored["talk_for"] == rise.id  # the Tier 3 move came after the arrival
    assert LearnerState.model_validate(stored) == state


def test_a_state_stored_before_reminders_is_chased_for_its_last_transition():
    """A state an earlier release stored while its arrival waited (no `talk_for`, no
    `chased`) loads, and is reminded for its last transition."""
    timeline, rise = arrived()
    old = orjson.loads(timeline.states["p"].model_dump_json(exclude_defaults=True))
    assert "chased" not in old
    assert "talk_for" not in old
    state = LearnerState.model_validate(old)
    _, out = step(state, Tick(now=midnight(day(5, 5)), partition=0), POLICY)
    assert [(o.step, o.transition_id) for o in out if isinstance(o, FollowUpOverdue)] == [
        ("reminder", rise.id)
    ]


def test_the_days_are_policy_settings_and_the_index_wakes_the_learner_then():
    """With 2 days and 1: reminded Sun W5, escalated Mon W6 (before week 5's evaluation,
    Mon 06:00); after each tick the wake-up index's next instant is the next step's day."""
    policy = policy_with(follow_up={"remind_after_days": 2, "escalate_after_days": 1})
    timeline, _ = arrived(policy=policy)
    assert overdue(tick_days(timeline, day(5, 2), day(5, 5))) == []
    state = timeline.states["p"]
    assert quiet_until(state, midnight(day(5, 5)), policy) == day_start(day(5, 6), policy.tz)
    assert overdue(tick_days(timeline, day(5, 6), day(5, 6))) == [("reminder", midnight(day(5, 6)))]
    assert quiet_until(state, midnight(day(5, 6)), policy) == day_start(day(6, 0), policy.tz)
    assert overdue(tick_days(timeline, day(6, 0), day(6, 1))) == [
        ("escalation", midnight(day(6, 0)))
    ]


@pytest.mark.parametrize("field", ["remind_after_days", "escalate_after_days"])
def test_the_days_must_be_at_least_one(field: str):
    data = POLICY.model_dump()
    data["follow_up"][field] = 0
    with pytest.raises(PolicyError) as caught:
        parse_policy(data)
    assert caught.value.problems[0][0] == f"follow_up.{field}"


def test_a_snooze_moves_the_reminder_and_the_escalation_to_the_day_after_it():
    """Mia snoozes prompts about the learner until Monday W6: the reminder (due Sat W5)
    comes at Tue W6 00:00, the escalation three days after it; the last action shown is the
    snooze, on the day it was recorded (not the day it names)."""
    timeline, _ = arrived()
    until = day(6, 0)
    snooze = Intervention(learner_id="p", kind="snoozed", at=at(5, 2, 9), id="s1", on=until)
    assert timeline.feed(snooze) == []
    state = timeline.states["p"]
    assert state.snoozed_until == until
    assert (state.last_intervention, state.last_intervention_on) == ("snoozed", day(5, 2))
    wake = quiet_until(state, midnight(day(5, 5)), POLICY)  # the index wakes it by then
    assert wake is not None
    assert wake <= midnight(day(6, 1))
    out = tick_days(timeline, day(5, 3), day(7, 6))
    assert overdue(out) == [
        ("reminder", midnight(day(6, 1))),
        ("escalation", midnight(day(6, 4))),
    ]


def test_a_snooze_that_ended_before_the_reminder_changes_nothing():
    timeline, _ = arrived()
    snooze = Intervention(learner_id="p", kind="snoozed", at=at(5, 1, 9), id="s1", on=day(5, 2))
    timeline.feed(snooze)
    out = tick_days(timeline, day(5, 2), day(5, 6))
    assert overdue(out) == [("reminder", midnight(day(5, 5)))]
