"""An overdue follow-up: the manager is reminded once, then it is escalated once.

A Tier 2 arrival waits for a conversation by its follow-up date (`LearnerState.talk_by`,
`stream.core.timeliness`). While it still waits and the learner is still at Tier 2 or 3:

- at the first tick on or after `talk_by + follow_up.remind_after_days` (default 1: the
  day after the date passed) the manager is **reminded**, once per arrival
  (`LearnerState.chased` keeps the tick's day);
- at the first tick on or after that day `+ follow_up.escalate_after_days` (default 3),
  still with no conversation, the overdue follow-up is **escalated**, once (`chased`
  says so): dispatch tells the Tier 3 recipients (HR of the learner's team, the manager
  informed).

Neither step changes the tier: a tier moves on evidence about the learner, and a
conversation not recorded is a fact about the manager's follow-through (Tier 2 still
holding at the follow-up already escalates to Tier 3, `stream.core.tiers.follow_up`).
A snooze the manager recorded (`snoozed`, until a day) moves both steps to the day after
it at the earliest. A conversation recorded ends the wait, and with it whatever of the two
is still to come; so does a fall below Tier 2 or a `resolved` (`stream.core.timeliness`). A new
arrival at Tier 2 starts a new wait, reminded and escalated afresh.

Each step is one `FollowUpOverdue` (its id a pure function of the learner, the arrival's
transition id and the step: a tick processed again after a crash gives the same id), and
one notice (`follow_up_overdue`, the step as its detail, labelled with the learner's role
and team) that the worker counts.
"""

from __future__ import annotations

import datetime as dt
import uuid

from schemas.reminders import FollowUpOverdue, ReminderStep
from stream.core.outputs import Notice, Output
from stream.core.policy import Policy
from stream.core.state import Chase, LearnerState
from stream.core.today import Clock
from stream.core.weeks import add_days

_NAMESPACE = uuid.UUID("0b6c2f4e-5d1a-4c3b-9e8f-7a6b5c4d3e21")


def reminder_id(learner_id: str, transition_id: str, step: ReminderStep) -> str:
    """A stable id: the same learner, arrival and step always give the same id."""
    return str(uuid.uuid5(_NAMESPACE, f"{learner_id}|{transition_id}|{step}"))


def next_day(state: LearnerState, policy: Policy) -> dt.date | None:
    """The day a tick next finds a step of the overdue follow-up due (None: none to come).
    The wake-up index (`stream.core.due`) and `due` below share it."""
    chased = state.chased
    if state.talk_by is None or state.tier < 2 or (chased is not None and chased.escalated):
        return None
    rules = policy.follow_up
    if chased is None:
        day = add_days(state.talk_by, rules.remind_after_days)  # saturating
    else:
        day = add_days(chased.reminded, rules.escalate_after_days)
    if state.snoozed_until is not None:  # the manager snoozed: nothing before the day after
        day = max(day, add_days(state.snoozed_until, 1))
    return day


def due(state: LearnerState, clock: Clock, policy: Policy) -> list[Output]:
    """At a tick (after its tier decisions): the reminder or the escalation that has come
    due, if any; at most one of them a tick (the escalation is at least a day after)."""
    day = next_day(state, policy)
    if day is None or clock.today < day:
        return []
    return _chase(state, clock, "reminder" if state.chased is None else "escalation")


def _chase(state: LearnerState, clock: Clock, step: ReminderStep) -> list[Output]:
    talk_by = state.talk_by
    transition_id = state.talk_for or state.last_transition_id
    if talk_by is None or transition_id is None:
        return []
    reminded = state.chased.reminded if state.chased is not None else None
    state.chased = Chase(reminded=reminded or clock.today, escalated=step == "escalation")
    overdue = FollowUpOverdue(
        id=reminder_id(state.learner_id, transition_id, step),
        learner_id=state.learner_id,
        step=step,
        transition_id=transition_id,
        at=clock.now,
        talk_by=talk_by,
        reminded_on=reminded,
        tier=state.tier,
    )
    profile = state.profile
    role = profile.role if profile is not None else ""
    team = (profile.team or "") if profile is not None else ""
    return [overdue, Notice("follow_up_overdue", state.learner_id, step, role=role, team=team)]
