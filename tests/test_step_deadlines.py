"""Completion: missed assignments, role thresholds, compliance overdue, follow-ups."""

from __future__ import annotations

import datetime as dt

from schemas.clock import Tick
from schemas.roster import Assignment
from stream.core.signals import missed_assignments
from stream.core.state import AssignmentState
from stream.core.step import step
from stream.core.timeline import Timeline, schedule
from tests.kit import (
    POLICY,
    assignment,
    at,
    codes,
    day,
    evaluated,
    event,
    moves,
    ordered,
    policy_with,
    profile,
    run,
    weeks,
)

UTC = dt.UTC


def midnight(d: dt.date) -> dt.datetime:
    return dt.datetime.combine(d, dt.time(0), tzinfo=UTC)


def test_missed_milestone_nudges_the_day_after_it_was_due():
    """
    Wed W1: milestone due.  Thu W1 00:00: missed -> Tier 1 (a daily check, not a weekly one).
    """
    records = [assignment("a", "m1", "milestone", day(1, 2), at(0))]
    out = run(records, until_week=1)
    assert moves(out) == [(0, 1)]
    assert out[0].at == midnight(day(1, 3))
    assert out[0].week is None
    assert codes(out[0]) == ["missed_assignment"]
    assert out[0].reasons[0].numbers == {"milestone": 1}


def test_completed_in_time_is_not_missed():
    """Due Wed W1, completed Tue W1 -> nothing."""
    records = [
        assignment("a", "m1", "milestone", day(1, 2), at(0)),
        event("a", at(1, 1), "completion", object_id="m1"),
    ]
    assert run(records, until_week=3) == []


def test_two_missed_milestones_reach_the_default_threshold():
    """
    Wed W1: m1 due -> Thu: Tier 1.   Fri W1: m2 due -> Sat: Tier 2 (threshold 2).
    """
    records = [
        assignment("a", "m1", "milestone", day(1, 2), at(0)),
        assignment("a", "m2", "milestone", day(1, 4), at(0)),
    ]
    out = run(records, until_week=1)
    assert moves(out) == [(0, 1), (1, 2)]
    assert out[1].route == "manager_outreach"
    assert codes(out[1])[0] == "missed_assignments"
    assert out[1].follow_up_due == day(1, 5) + dt.timedelta(days=7)


def test_sales_rep_tier_two_at_two_missed_certifications():
    """A sales rep: one missed certification is Tier 1, the second one Tier 2."""
    records = [
        profile("s", "sales_rep"),
        assignment("s", "c1", "certification", day(1, 0), at(0)),
        assignment("s", "c2", "certification", day(2, 0), at(0)),
    ]
    out = run(records, until_week=2)
    assert moves(out)[:2] == [(0, 1), (1, 2)]
    assert out[1].at == midnight(day(2, 1))


def test_back_office_single_missed_compliance_is_tier_two_then_three_after_fourteen_days():
    """
    day      due  +1   ...  +14  +15
    tier      0    2         2    3     (more than 14 days overdue is a compliance failure;
                                         the follow-up is moved out of the way here)
    """
    due = day(1, 0)
    records = [profile("b", "back_office"), assignment("b", "k1", "compliance", due, at(0))]
    out = run(records, until_week=4, policy=policy_with(follow_up={"days": 30}))
    assert moves(out)[:2] == [(0, 2), (2, 3)]
    assert out[0].at == midnight(due + dt.timedelta(days=1))
    assert out[1].at == midnight(due + dt.timedelta(days=15))
    assert codes(out[1])[0] == "compliance_overdue"
    assert out[1].reasons[0].numbers["overdue_days"] == 15
    assert out[1].route == "hr_escalation"


def test_compliance_sensitive_learner_escalates_on_the_first_overdue_day():
    """A compliance officer: any overdue compliance module is Tier 3 at once."""
    records = [
        profile("c", "compliance_officer"),
        assignment("c", "k1", "compliance", day(1, 0), at(0)),
    ]
    out = run(records, until_week=1)
    assert moves(out) == [(0, 3)]
    assert codes(out[0])[0] == "compliance_sensitive_overdue"
    assert out[0].factors.role_exposure == ["compliance_sensitive"]


def test_late_completion_stops_the_counting_and_the_tier_falls_on_a_quiet_week():
    """
    W1 Mon m1 due; Tue Tier 1.  W2 Wed completed (late).  W2 closes quiet -> Tier 0.
    """
    records = [
        *weeks("a", [5, 5, 5, 5, 5]),
        assignment("a", "m1", "milestone", day(1, 0), at(0)),
        event("a", at(2, 2, 15), "completion", object_id="m1"),
    ]
    out = run(records, until_week=4)
    assert moves(out) == [(0, 1), (1, 0)]
    assert out[1].week == "2026-W04"  # week 2, closed after the late completion


def test_missed_assignment_stops_counting_thirty_days_after_due():
    """A milestone never completed counts for 30 days after its due date, then falls off."""
    records = [*weeks("a", [5] * 10), assignment("a", "m1", "milestone", day(1, 0), at(0))]
    out = run(records, until_week=9)
    assert moves(out) == [(0, 1), (1, 0)]
    fell = out[1].at.date()
    assert fell > day(1, 0) + dt.timedelta(days=30)
    assert fell <= day(1, 0) + dt.timedelta(days=30 + 8)


def test_follow_up_escalates_when_tier_two_still_holds():
    """
    A sales rep (follow-up after 3 days):
    W1 Mon c1 due, W2 Mon c2 due -> Tier 2 Tue W2, follow-up Fri W2; still missed -> Tier 3.
    """
    records = [
        profile("s", "sales_rep"),
        assignment("s", "c1", "certification", day(1, 0), at(0)),
        assignment("s", "c2", "certification", day(2, 0), at(0)),
    ]
    out = run(records, until_week=2)
    assert moves(out) == [(0, 1), (1, 2), (2, 3)]
    assert out[1].follow_up_due == day(2, 4)
    escalation = out[2]
    assert escalation.at == midnight(day(2, 4))
    assert codes(escalation)[0] == "follow_up_unresolved"
    assert "missed_assignments" in codes(escalation)
    assert escalation.route == "hr_escalation"


def test_follow_up_does_not_escalate_when_the_work_was_done():
    """Same sales rep, but both certifications completed before the follow-up: no Tier 3."""
    records = [
        profile("s", "sales_rep"),
        assignment("s", "c1", "certification", day(1, 0), at(0)),
        assignment("s", "c2", "certification", day(2, 0), at(0)),
        event("s", at(2, 2), "completion", object_id="c1"),
        event("s", at(2, 2, 11), "completion", object_id="c2"),
    ]
    out = run(records, until_week=2)
    # no escalation at the follow-up (Fri W2); week 2 closes quiet and the tier falls a step
    assert moves(out) == [(0, 1), (1, 2), (2, 1)]
    assert out[2].route == "resolved"


def test_follow_up_on_activity_uses_the_first_week_closed_after_the_outreach():
    """
    week    0 1 2 3 4 5 6
    events  6 6 6 6 4 4 4
    tier    0 0 0 0 1 2 3   week 6 (after the outreach at week 5's evaluation) is still down;
                            the weekly rule reaches Tier 3 on the same day as the follow-up
    """
    out = run(weeks("a", [6, 6, 6, 6, 4, 4, 4]), until_week=6)
    assert moves(out) == [(0, 1), (1, 2), (2, 3)]
    assert out[2].at == evaluated(6)
    assert out[1].follow_up_due == evaluated(6).date()


def test_a_completion_that_arrives_before_its_assignment_still_counts():
    """
    Tue W0: the learner completes compliance module k1.  Wed W0: k1 is assigned, due Mon W1.
    -> never missed (events and assignments travel on different topics).
    """
    records = [
        *weeks("a", [5, 5, 5, 5]),
        event("a", at(0, 1, 15), "completion", object_id="k1"),
        assignment("a", "k1", "compliance", day(1, 0), at(0, 2)),
    ]
    assert run(records, until_week=3) == []


def test_an_exposed_follow_up_waits_for_the_week_after_the_outreach():
    """
    A sales rep (3-day follow-up) reaches Tier 2 on Tue W5 (week 4: an at-once major dip).
    The follow-up on Fri W5 cannot judge activity yet (week 5 closes on Monday), so it stays
    pending and judges week 5 when it is evaluated on Tue W6: still down -> Tier 3, as the
    follow-up of Fri W5 (not a later one).
    """
    records = [profile("s", "sales_rep"), *weeks("s", [6, 6, 6, 6, 1, 1])]
    out = run(records, until_week=5)
    assert moves(out) == [(0, 2), (2, 3)]
    assert out[0].follow_up_due == day(5, 4)
    assert out[1].at == evaluated(5)
    assert codes(out[1])[0] == "follow_up_unresolved"
    assert out[1].reasons[0].numbers["follow_up_due"] == day(5, 4).isoformat()


def test_a_repeated_tick_after_a_gap_changes_nothing() -> None:
    """No tick for a week (the worker down), then one that closes two weeks: the follow-up
    finds nothing in the outreach's week and is armed again at once on the later week's
    dip, so the same tick given again leaves the state as it is (ticks are idempotent)."""
    records = [profile("p"), *weeks("p", [10, 10, 10, 10, 4, 5])]
    records += [assignment("p", f"m{i}", "milestone", day(4, 0), at(0)) for i in range(2)]
    records += [event("p", at(4, 2, 12), "completion", object_id=f"m{i}") for i in range(2)]
    down_from = evaluated(4) - dt.timedelta(days=1)
    state = None
    for item in schedule(ordered(records), POLICY, evaluated(5)):
        if not isinstance(item, Tick) or item.now <= down_from:
            state, _ = step(state, item, POLICY)
    assert state is not None
    assert state.tier == 2
    assert state.follow_up_due == day(5, 1)
    back = Tick(now=evaluated(5) + dt.timedelta(days=1), partition=0)
    state, _ = step(state, back, POLICY)
    assert state.follow_up_due is not None
    assert state.follow_up_due > back.now.date()
    once = state.model_dump_json()
    state, again = step(state, back, POLICY)
    assert again == []
    assert state.model_dump_json() == once


def tiers_by_day(records: list, until: dt.date) -> dict[dt.date, int]:
    """The learner's tier after each midnight tick (one learner in `records`)."""
    timeline = Timeline(POLICY)
    found: dict[dt.date, int] = {}
    for item in schedule(ordered(records), POLICY, midnight(until)):
        timeline.feed(item)
        if isinstance(item, Tick):
            (state,) = timeline.states.values()
            found[item.now.date()] = state.tier
    return found


def test_an_outstanding_compliance_module_counts_until_it_is_completed():
    """
    A compliance officer, active every week; compliance module k1 due Tue 14 April.
    day     14 Apr   15 Apr ...  14 May (30 days) ...  9 Jun (56 days)
    tier      0        3            3                      3      (never "no warning signs")
    """
    due = day(14, 1)
    assert due == dt.date(2026, 4, 14)
    records = [
        profile("c", "compliance_officer"),
        *weeks("c", [5] * 24),
        assignment("c", "k1", "compliance", due, at(13)),
    ]
    tiers = tiers_by_day(records, dt.date(2026, 6, 9))
    assert tiers[due] == 0
    assert {tiers[d] for d in tiers if d > due} == {3}
    out = run(records, until_week=23)
    assert moves(out) == [(0, 3)]


def test_the_overdue_days_keep_growing_past_the_counting_window():
    """Overdue 56 days: a compliance module and a certification still count, with their
    days; a milestone stopped counting after the window (30 days)."""
    due, today = dt.date(2026, 4, 14), dt.date(2026, 6, 9)
    items = [
        AssignmentState(kind="compliance", due=due),
        AssignmentState(kind="certification", due=due),
        AssignmentState(kind="milestone", due=due),
    ]
    missed = missed_assignments(items, today, POLICY.assignments)
    assert missed.by_kind == {"compliance": 1, "certification": 1}
    assert missed.compliance_overdue_days == 56


def test_a_compliance_module_completed_late_stops_counting_and_the_tier_falls():
    """
    Back office, active every week; k1 due Mon W1, completed Wed W8 (51 days late).
    tier 2 from Tue W1, 3 at the follow-up; after the completion two quiet weeks: 2, then 1...
    """
    records = [
        profile("b", "back_office"),
        *weeks("b", [5] * 14),
        assignment("b", "k1", "compliance", day(1, 0), at(0)),
        event("b", at(8, 2, 15), "completion", object_id="k1"),
    ]
    out = run(records, until_week=13)
    assert moves(out) == [(0, 2), (2, 3), (3, 2), (2, 1), (1, 0)]
    assert out[2].at == evaluated(9)  # weeks 8 and 9: the first week fully after it is 9


def test_two_outstanding_certifications_a_month_apart_still_reach_the_threshold():
    """A sales rep: certification c1 due Mon W1 and never done; c2 due Mon W7 (42 days
    later) -> the two outstanding certifications reach the threshold (2) on Tue W7."""
    records = [
        profile("s", "sales_rep"),
        *weeks("s", [5] * 8),
        assignment("s", "c1", "certification", day(1, 0), at(0)),
        assignment("s", "c2", "certification", day(7, 0), at(0)),
    ]
    out = run(records, until_week=7)
    assert (1, 2) in moves(out)
    reached = next(t for t in out if t.to_tier == 2)
    assert reached.at == midnight(day(7, 1))
    assert reached.reasons[0].numbers == {"certification": 2}


def test_a_withdrawn_duty_no_longer_counts():
    """
    Back office; k1 due Mon W1 -> Tier 2, then 3 at the follow-up. The assignment is
    withdrawn on Wed W4: weeks 4 and 5 are quiet, Tier 3 steps down to 2 at week 5's close.
    """
    k1 = assignment("b", "k1", "compliance", day(1, 0), at(0))
    withdrawn = k1.model_copy(update={"withdrawn": True, "assigned_at": at(4, 2)})
    records = [profile("b", "back_office"), *weeks("b", [5] * 8), k1, withdrawn]
    out = run(records, until_week=7)
    assert moves(out)[:3] == [(0, 2), (2, 3), (3, 2)]
    assert out[2].week == "2026-W07"  # week 5
    assert Assignment.model_validate_json(withdrawn.model_dump_json()).withdrawn is True
