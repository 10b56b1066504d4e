"""Recording a move between tiers: one deterministic, explained transition per change (the
decision to move is `stream.core.tiers`'s)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import cast

from schemas.transitions import Exposure, Factors, Route, Tier, TierTransition
from stream.core.rules import SEVERITY_RANK, Condition
from stream.core.state import LearnerState
from stream.core.weeks import week_label

_NAMESPACE = uuid.UUID("6f1d4c8e-7a52-4f0e-9a4b-2c3e5d7f9a10")
_ROUTES: dict[int, Route] = {
    0: "resolved",
    1: "learner_nudge",
    2: "manager_outreach",
    3: "hr_escalation",
}


def transition_id(learner_id: str, seq: int, from_tier: int, to_tier: int, at: dt.datetime) -> str:
    """A stable id: the same learner history always yields the same ids."""
    key = f"{learner_id}|{seq}|{from_tier}|{to_tier}|{at.isoformat()}"
    return str(uuid.uuid5(_NAMESPACE, key))


def route_for(from_tier: int, to_tier: int, conditions: list[Condition]) -> Route:
    """Rising routes by the tier reached (or a condition's own route); falling is `resolved`."""
    if to_tier < from_tier:
        return "resolved"
    for cond in conditions:
        if cond.tier == to_tier and cond.route is not None:
            return cond.route
    return _ROUTES[to_tier]


def move(
    state: LearnerState,
    to_tier: int,
    at: dt.datetime,
    conditions: list[Condition],
    exposure: list[Exposure],
    follow_up: dt.date | None,
    week: int | None = None,
) -> TierTransition:
    """Move the learner to `to_tier` (decided by `stream.core.tiers`, with the follow-up
    due, if any), update the state, and return the transition."""
    ordered = sorted(conditions, key=lambda c: (-c.tier, -SEVERITY_RANK[c.severity], c.cause.code))
    severity = max((c.severity for c in ordered), key=SEVERITY_RANK.__getitem__, default="none")
    from_tier = state.tier
    transition = TierTransition(
        id=transition_id(state.learner_id, state.transitions, from_tier, to_tier, at),
        learner_id=state.learner_id,
        from_tier=from_tier,
        to_tier=cast(Tier, to_tier),
        at=at,
        week=week_label(week) if week is not None else None,
        factors=Factors(
            severity=severity, persistence_weeks=state.persistence, role_exposure=exposure
        ),
        reasons=[c.cause.as_reason() for c in ordered],
        route=route_for(from_tier, to_tier, ordered),
        follow_up_due=follow_up,
    )
    if state.talk_by is not None and state.talk_for is None:  # an arrival waits: keep its id
        state.talk_for = state.last_transition_id
    if from_tier == 0 and to_tier > 0:
        state.episode_from = at
    state.tier = cast(Tier, to_tier)
    state.tier_since = at
    state.reasons = [c.cause for c in ordered]  # the sentences are rendered again when shown
    state.factors = transition.factors
    state.transitions += 1
    state.last_transition_id = transition.id
    state.quiet_weeks = 0
    state.follow_up_due = follow_up
    state.outreach_at = at if follow_up is not None else None
    return transition
