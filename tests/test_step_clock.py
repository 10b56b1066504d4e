"""What the tick computes once for every learner: its clock, and each profile's exposure."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from stream.core.policy import DEFAULT_ROLE
from stream.core.state import LearnerState
from stream.core.tiers import role_of
from stream.core.today import clock_at
from stream.core.weeks import last_closed_week, local_date
from tests.kit import POLICY, policy_with, profile

BERLIN = policy_with(timezone="Europe/Berlin")
INSTANTS = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1), timezones=st.just(dt.UTC)
)


@given(INSTANTS)
def test_the_clock_of_a_tick_is_its_date_and_last_closed_week(now):
    """Today and the last closed week, in the policy's timezone, whichever policy asked last."""
    for policy in (POLICY, BERLIN, POLICY):
        clock = clock_at(now, policy)
        grace = dt.timedelta(hours=policy.weeks.close_grace_hours)
        assert clock.today == local_date(now, policy.tz)
        assert clock.closed == last_closed_week(now, policy.tz, grace)


def test_the_same_now_for_another_policy_gets_that_policy_s_clock():
    """Sunday 23:30 UTC is Monday in Berlin: the clock remembered for one policy is not
    handed to another asking about the very same `now`."""
    now = dt.datetime(2026, 1, 11, 23, 30, tzinfo=dt.UTC)
    assert clock_at(now, BERLIN).today == dt.date(2026, 1, 12)
    assert clock_at(now, POLICY).today == dt.date(2026, 1, 11)


@given(
    st.sampled_from([*POLICY.roles, "astronaut"]),
    st.none() | st.booleans(),
    st.none() | st.booleans(),
    st.none() | st.booleans(),
)
def test_a_profile_flag_overrides_its_role_and_none_keeps_it(role, customer, compliance, lead):
    """Each exposure flag is the profile's own when set, else the role's (default role if
    unknown); asking twice gives the same answer, and a list the caller may keep."""
    state = LearnerState(learner_id="a")
    state.profile = profile(
        "a",
        role,
        customer_facing=customer,
        compliance_sensitive=compliance,
        leadership_pipeline=lead,
    )
    expected_role = POLICY.role(role if role in POLICY.roles else DEFAULT_ROLE)
    own = {"customer_facing": customer, "compliance_sensitive": compliance}
    own["leadership_pipeline"] = lead
    expected = [f for f, v in own.items() if (v if v is not None else getattr(expected_role, f))]
    first_role, first = role_of(state, POLICY)
    first.append("customer_facing")  # a caller's list is its own
    assert role_of(state, POLICY) == (expected_role, expected)
    assert first_role == expected_role


def test_no_profile_is_the_default_role():
    """A learner with no profile yet has the default role and its flags."""
    assert role_of(LearnerState(learner_id="a"), POLICY) == (POLICY.role(DEFAULT_ROLE), [])
