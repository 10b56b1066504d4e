"""Usage frequency: baselines, dips, persistence and de-escalation, week by week."""

from __future__ import annotations

import datetime as dt
import itertools

from tests.kit import codes, evaluated, moves, profile, run, weeks


def test_steady_learner_is_never_flagged():
    """Week  0 1 2 3 4 5 6 7 | events 6 6 6 6 6 6 6 6 -> no transition."""
    assert run(weeks("a", [6] * 8), until_week=7) == []


def test_one_week_minor_dip_nudges_then_resolves():
    """
    week    0 1 2 3 4 5
    events  6 6 6 6 4 6
    tier    0 0 0 0 1 0     (4 is 33% down: a minor dip; a good week resolves it)
    """
    out = run(weeks("a", [6, 6, 6, 6, 4, 6]), until_week=5)
    assert moves(out) == [(0, 1), (1, 0)]
    nudge, done = out
    assert nudge.route == "learner_nudge"
    assert nudge.week == "2026-W06"
    assert nudge.at == evaluated(4)
    assert codes(nudge) == ["minor_dip"]
    assert nudge.reasons[0].numbers["drop_pct"] == 33
    assert nudge.factors.severity == "minor"
    assert nudge.factors.persistence_weeks == 1
    assert done.route == "resolved"
    assert (done.from_tier, done.to_tier) == (1, 0)


def test_a_drop_of_exactly_a_quarter_is_not_a_dip():
    """events 8 8 8 8 6 -> 6 is 75% of 8, not below it: nothing."""
    assert run(weeks("a", [8, 8, 8, 8, 6]), until_week=4) == []


def test_major_dip_without_exposure_is_still_tier_one():
    """events 6 6 6 6 2 -> a 67% drop: major, Tier 1 (no exposure flag)."""
    out = run(weeks("a", [6, 6, 6, 6, 2]), until_week=4)
    assert moves(out) == [(0, 1)]
    assert codes(out[0]) == ["major_dip"]
    assert out[0].factors.severity == "major"


def test_two_week_decline_reaches_manager_with_follow_up():
    """
    week    0 1 2 3 4 5
    events  6 6 6 6 4 4
    tier    0 0 0 0 1 2   -> Tier 2 at week 5's evaluation, follow-up 7 days later
    """
    out = run(weeks("a", [6, 6, 6, 6, 4, 4]), until_week=5)
    assert moves(out) == [(0, 1), (1, 2)]
    outreach = out[1]
    assert outreach.route == "manager_outreach"
    assert codes(outreach) == ["repeated_dip"]
    assert outreach.factors.persistence_weeks == 2
    assert outreach.follow_up_due == evaluated(5).date() + dt.timedelta(days=7)
    assert "second week in a row" in outreach.reasons[0].text


def test_silent_learner_keeps_baseline_and_escalates_over_three_weeks():
    """
    week    0 1 2 3 4 5 6
    events  5 5 5 5 0 0 0     (dip weeks never enter the baseline)
    tier    0 0 0 0 1 2 3
    """
    out = run(weeks("a", [5, 5, 5, 5]), until_week=6)
    assert moves(out) == [(0, 1), (1, 2), (2, 3)]
    assert out[2].route == "hr_escalation"
    assert codes(out[2])[0] == "disengagement"
    assert out[2].reasons[0].numbers["baseline"] == 5


def test_new_learner_is_not_flagged_with_one_week_of_history():
    """events 6 0 -> only one closed week before the dip: no baseline, no flag."""
    assert run(weeks("a", [6, 0]), until_week=1) == []


def test_low_baseline_is_never_flagged():
    """events 2 2 2 2 0 0 -> a baseline under 3 events a week raises nothing."""
    assert run(weeks("a", [2, 2, 2, 2, 0, 0]), until_week=5) == []


def test_baseline_uses_the_four_most_recent_non_dip_weeks():
    """
    week    0 1 2  3  4 5
    events  4 6 8 10 12 6   baseline for week 5 = mean(6,8,10,12) = 9: 6 is 33% down
                            (over all five weeks it would be 8, and 6 no dip)
    """
    out = run(weeks("a", [4, 6, 8, 10, 12, 6]), until_week=5)
    assert moves(out) == [(0, 1)]
    assert out[0].reasons[0].numbers["baseline"] == 9


def test_a_lower_new_normal_stays_a_dip_until_resolved():
    """
    week    0  1  2 3 4
    events  20 20 8 8 8   dip weeks never enter the baseline: 1, 2, 3
    """
    out = run(weeks("a", [20, 20, 8, 8, 8]), until_week=4)
    assert moves(out) == [(0, 1), (1, 2), (2, 3)]


def test_exposed_learner_major_dip_acts_at_once():
    """
    A sales rep (customer-facing by role):
    week    0 1 2 3 4
    events  6 6 6 6 2   -> straight to Tier 2, follow-up in 3 days
    """
    records = [profile("s", "sales_rep"), *weeks("s", [6, 6, 6, 6, 2])]
    out = run(records, until_week=4)
    assert moves(out) == [(0, 2)]
    assert codes(out[0]) == ["exposed_major_dip", "major_dip"]
    assert out[0].factors.role_exposure == ["customer_facing"]
    assert out[0].follow_up_due == evaluated(4).date() + dt.timedelta(days=3)


def test_profile_flag_overrides_role_default():
    """A sales rep whose profile says customer_facing=false gets no at-once escalation."""
    records = [profile("s", "sales_rep", customer_facing=False), *weeks("s", [6, 6, 6, 6, 2])]
    assert moves(run(records, until_week=4)) == [(0, 1)]


def test_tier_three_needs_two_quiet_weeks_then_falls_one_step_a_week():
    """
    week    0 1 2 3 4 5 6 7 8 9 10
    events  5 5 5 5 0 0 0 5 5 5 5
    tier    0 0 0 0 1 2 3 3 2 1 0
    """
    out = run(weeks("a", [5, 5, 5, 5, 0, 0, 0, 5, 5, 5, 5]), until_week=10)
    assert moves(out) == [(0, 1), (1, 2), (2, 3), (3, 2), (2, 1), (1, 0)]
    assert [t.route for t in out[3:]] == ["resolved"] * 3
    assert out[3].week == "2026-W10"  # week 8: the second quiet week


def test_transitions_chain():
    """Every transition starts from the tier the previous one reached."""
    out = run(weeks("a", [5, 5, 5, 5, 0, 0, 0, 5, 5, 5, 5]), until_week=10)
    for before, after in itertools.pairwise(out):
        assert after.from_tier == before.to_tier
