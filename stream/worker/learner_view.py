"""What `GET /learners/{id}` answers: a learner's tier and why, from aggregates only.

The view is for the people who ask "why is this learner at Tier 2?". Following the privacy
rule of the design, it holds aggregates only: the tier and the day it was set, the reasons
and factors, the follow-up date and the weekly aggregates. Never event ids, timestamps
finer than a day, single assessment scores, assignment names or a profile's contacts.
"""

from __future__ import annotations

from typing import Any

from stream.core.policy import Policy
from stream.core.reason_view import reason_view
from stream.core.state import ClosedWeek, LearnerState
from stream.core.step import role_of
from stream.core.weeks import local_date, week_label


def week_view(week: ClosedWeek) -> dict[str, Any]:
    """One evaluated week's aggregates."""
    return {
        "week": week_label(week.week),
        "events": week.events,
        "active_days": week.active_days,
        "completions": week.completions,
        "baseline": week.baseline,
        "dip": week.dip,
        "persistence": week.persistence,
    }


def learner_view(state: LearnerState, policy: Policy) -> dict[str, Any]:
    """The JSON body of `GET /learners/{id}` for a learner's state (days in the policy's
    timezone; the evaluated weeks the state keeps, oldest first)."""
    _, exposure = role_of(state, policy)
    since = local_date(state.tier_since, policy.tz) if state.tier_since is not None else None
    return {
        "learner_id": state.learner_id,
        "tier": state.tier,
        "tier_since": since.isoformat() if since is not None else None,
        "role": state.profile.role if state.profile is not None else None,
        "role_exposure": exposure,
        "reasons": [reason_view(r) for r in state.reasons],
        "factors": state.factors.model_dump(mode="json") if state.factors is not None else None,
        "follow_up_due": state.follow_up_due.isoformat() if state.follow_up_due else None,
        "evaluated_week": (
            week_label(state.evaluated_week) if state.evaluated_week is not None else None
        ),
        "closed_weeks": [week_view(w) for w in state.closed_weeks],
    }
