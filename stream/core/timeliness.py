"""Whether a Tier 2 arrival was answered by a conversation in time.

A learner arriving at Tier 2 (from below) gets a follow-up date: the manager is asked to
hold a conversation by then. The arrival waits (`LearnerState.talk_by`, that date) until a
`conversation_held` intervention comes: **on time** when the conversation's day (the day
the manager gave, else the day it was recorded) is on or before it, **late** after. When
the learner falls below Tier 2 with no conversation recorded (recovered, or resolved),
the arrival was answered **never** (**left** when the fall is the learner's leaving:
`stream.core.leaving`). Each outcome is one notice (`conversation`), labelled
with the learner's role and team, which the worker counts
(`tierwatch_conversations_total{outcome, role, team}`); a ratio per role and team is on
the Grafana dashboard. An escalation to Tier 3 keeps the arrival waiting: a conversation
then is late. While it waits past its date, the manager is reminded and the follow-up
escalated (`stream.core.reminders`); whatever ends the wait ends those too.
"""

from __future__ import annotations

from schemas.roster import Intervention
from schemas.transitions import TierTransition
from stream.core.outputs import Notice, Output
from stream.core.policy import Policy
from stream.core.state import LearnerState
from stream.core.weeks import local_date


def track(state: LearnerState, outputs: list[Output]) -> list[Notice]:
    """After a step: an arrival at Tier 2 starts waiting; a fall below it ends the wait."""
    out: list[Notice] = []
    for t in outputs:
        if not isinstance(t, TierTransition):
            continue
        if t.from_tier < 2 <= t.to_tier and t.follow_up_due is not None:
            if state.talk_by is not None:  # cannot be: it would have fallen below 2 first
                out.append(_notice(state, "never"))
            _stop_waiting(state)
            state.talk_by = t.follow_up_due  # the arrival's id, unless it is the last one
            state.talk_for = t.id if t.id != state.last_transition_id else None
        elif t.to_tier < 2 and state.talk_by is not None:
            gone = any(r.code == "left" for r in t.reasons)
            out.append(_notice(state, "left" if gone else "never"))
            _stop_waiting(state)
    return out


def _stop_waiting(state: LearnerState) -> None:
    """No arrival waits any more: nor does its reminder or escalation."""
    state.talk_by = state.talk_for = state.chased = None


def conversation(state: LearnerState, item: Intervention, policy: Policy) -> list[Notice]:
    """A conversation was recorded: it answers the arrival that waits, if one does."""
    due = state.talk_by
    if due is None:
        return []
    day = item.on or local_date(item.at, policy.tz)
    _stop_waiting(state)
    return [_notice(state, "on_time" if day <= due else "late")]


def _notice(state: LearnerState, outcome: str) -> Notice:
    profile = state.profile
    role = profile.role if profile is not None else ""
    team = (profile.team or "") if profile is not None else ""
    return Notice("conversation", state.learner_id, outcome, role=role, team=team)
