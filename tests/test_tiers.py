"""The tier decisions (`stream.core.tiers`); their timelines are in the `test_step_*` files."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from stream.core.rules import activity_conditions, dip_tiers
from stream.core.signals import Dip
from stream.core.state import ClosedWeek, LearnerState
from stream.core.tiers import spent, tier2_holding
from tests.kit import POLICY, policy_with

LEVELS = st.sampled_from(["none", "minor", "major"])
EXPOSURE = st.sampled_from([[], ["customer_facing"], ["compliance_sensitive"]])
POLICIES = st.sampled_from([POLICY, policy_with(tiers={"exposed_major_dip_tier": 1})])


@given(LEVELS, st.integers(0, 8), EXPOSURE, POLICIES)
def test_a_closed_week_holds_tier_two_exactly_when_its_dip_called_for_it(
    level, persistence, exposure, policy
):
    """The follow-up judges a closed week by the rule that raised the tier at its close:
    Tier 2 holds when the week's own activity conditions called for Tier 2 or more."""
    dip = Dip(level, 1, 10.0, 0.9 if level == "major" else 0.4 if level == "minor" else 0.0)
    called = max(
        (c.tier for c in activity_conditions(dip, persistence, exposure, policy)), default=0
    )
    row = ClosedWeek.of(7, 1, 1, 0, 10.0, level, persistence, False)
    state = LearnerState(learner_id="a", closed_weeks=[row], tier=2)
    holding = tier2_holding(state, dt.date(2026, 1, 1), 7, exposure, policy)
    assert bool(holding) == (called >= 2)
    assert max(dip_tiers(level, persistence, exposure, policy.tiers)) == called


@given(LEVELS, st.integers(0, 8), EXPOSURE)
def test_a_longer_or_exposed_dip_never_calls_for_a_lower_tier(level, persistence, exposure):
    """One more week of the same dip, or an exposure flag, never lowers the tier called for."""
    tiers = POLICY.tiers
    now = max(dip_tiers(level, persistence, exposure, tiers))
    assert max(dip_tiers(level, persistence + 1, exposure, tiers)) >= now
    assert max(dip_tiers(level, persistence, ["customer_facing"], tiers)) >= now


def test_evidence_up_to_a_resolved_intervention_is_spent():
    """After `resolved` at an instant, evidence at or before it is spent, later is not."""
    at = dt.datetime(2026, 1, 7, 12, tzinfo=dt.UTC)
    state = LearnerState(learner_id="a")
    assert not spent(state, at)
    state.evidence_from = at
    assert spent(state, at)
    assert spent(state, at - dt.timedelta(seconds=1))
    assert not spent(state, at + dt.timedelta(seconds=1))
