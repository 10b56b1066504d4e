"""Reason sentences from a stored state: a state stored without its sentences gives back,
from its numbers, the reasons its last transition carried."""

from __future__ import annotations

import pytest

from schemas.history import Record
from schemas.transitions import Reason, TierTransition
from stream.core.policy import Policy
from stream.core.state import LearnerState
from stream.core.timeline import Timeline, schedule
from stream.sim.simulate import simulate
from tests.kit import POLICY, at, evaluated, intervention, ordered, policy_with
from tests.kit import weeks as weekly


def replay_storing(records: list[Record], until_week: int, policy: Policy) -> list[TierTransition]:
    """Replay `records`; after each transition, store its learner's state as JSON (as the
    worker does) and check that it gives back the reasons the transition carries."""
    timeline = Timeline(policy)
    transitions: list[TierTransition] = []
    for item in schedule(ordered(records), policy, evaluated(until_week)):
        out = [o for o in timeline.feed(item) if isinstance(o, TierTransition)]
        for last in {t.learner_id: t for t in out}.values():
            raw = timeline.states[last.learner_id].model_dump_json(exclude_defaults=True)
            causes = LearnerState.model_validate_json(raw).reasons
            assert [c.as_reason() for c in causes] == last.reasons
        transitions.extend(out)
    return transitions


def test_the_reasons_of_a_falling_tier_come_back_from_the_state():
    """
    learner q   week  0 1 2 3 4 5
                events 6 6 6 6 0 6   -> Tier 1 at week 4; quiet week 5: back to Tier 0
    learner r   events 6 6 6 6 0     -> Tier 1 at week 4; resolved on Wednesday of week 5
    """
    records = [
        *weekly("q", [6, 6, 6, 6, 0, 6]),
        *weekly("r", [6, 6, 6, 6, 0]),
        intervention("r", "resolved", at(5, 2)),
    ]
    out = replay_storing(records, 5, POLICY)
    reasons = {t.learner_id: t.reasons for t in out if t.to_tier == 0}
    assert reasons["q"] == [
        Reason(
            code="quiet_weeks",
            text="No warning signs in 1 closed week, up to 2026-W07.",
            numbers={"quiet_weeks": 1},
        )
    ]
    assert reasons["r"] == [
        Reason(code="resolved", text="A manager recorded the situation as resolved.")
    ]


def test_the_reasons_of_an_unresolved_follow_up_come_back_from_the_state():
    """
    Disengagement only after 9 dip weeks:
    week    0 1 2 3 4 5 6 7
    events  6 6 6 6 0 0 0 0   -> Tier 2 at week 5 (follow-up a week later); week 6 still
                                 down at the follow-up: Tier 3
    """
    policy = policy_with(tiers={"tier3_dip_weeks": 9})
    out = replay_storing(weekly("s", [6, 6, 6, 6, 0, 0, 0, 0]), 7, policy)
    escalation = next(t for t in out if t.to_tier == 3)
    assert [(r.code, r.text) for r in escalation.reasons] == [
        ("follow_up_unresolved", "Tier 2 still holds at the follow-up due 2026-02-24."),
        ("still_down", "Activity in 2026-W08 was still down."),
    ]


@pytest.mark.parametrize("seed", [1, 2])
def test_every_simulated_transition_comes_back_from_the_state(seed: int) -> None:
    """Simulated learners of every persona, stored after each input."""
    out = replay_storing(list(simulate(40, 12, seed, policy=POLICY)), 13, POLICY)
    assert len({r.code for t in out for r in t.reasons}) >= 8
