"""Manager interventions: a raised concern, a resolution, and what they never do."""

from __future__ import annotations

from tests.kit import at, codes, intervention, moves, run, weeks


def test_concern_raised_goes_to_wellbeing_at_once():
    """A concern at Wed W1 -> Tier 3 via the wellbeing route, dated at the intervention."""
    out = run([*weeks("a", [5, 5]), intervention("a", "concern_raised", at(1, 2))], until_week=1)
    assert moves(out) == [(0, 3)]
    assert out[0].route == "wellbeing"
    assert out[0].at == at(1, 2)
    assert codes(out[0]) == ["concern_raised"]


def test_resolved_returns_to_zero_and_restarts_the_baseline():
    """
    week    0 1 2 3 4 5 6 7 8
    events  6 6 6 6 2 2 2 2 2
    tier    0 0 0 0 1 2 0 0 0   resolved on Wed W6 -> 0; weeks 7 and 8 build a new
                                baseline of 2 a week (< 3): never flagged again
    """
    records = [*weeks("a", [6, 6, 6, 6, 2, 2, 2, 2, 2]), intervention("a", "resolved", at(6, 2))]
    out = run(records, until_week=8)
    assert moves(out) == [(0, 1), (1, 2), (2, 0)]
    assert out[2].route == "resolved"
    assert codes(out[2]) == ["resolved"]


def test_conversation_held_changes_nothing():
    """A conversation is recorded, but it neither raises nor lowers the tier."""
    records = [*weeks("a", [6, 6, 6, 6, 3]), intervention("a", "conversation_held", at(5, 0))]
    assert moves(run(records, until_week=4)) == [(0, 1)]


def test_the_note_never_reaches_a_transition():
    """A free-text note on a concern is nowhere in the transition."""
    concern = intervention("a", "concern_raised", at(0, 2)).model_copy(
        update={"note": "private: going through a divorce"}
    )
    out = run([concern], until_week=0)
    assert "divorce" not in out[0].model_dump_json()


def test_a_concern_at_tier_three_still_reaches_wellbeing():
    """
    week    0 1 2 3 4 5 6      Tier 3 by disengagement (HR) in week 6; a concern raised on
    events  5 5 5 5 0 0 0      Wed W7 gives a 3 -> 3 transition routed to wellbeing.
    """
    records = [*weeks("a", [5, 5, 5, 5]), intervention("a", "concern_raised", at(7, 2))]
    out = run(records, until_week=7)
    assert moves(out) == [(0, 1), (1, 2), (2, 3), (3, 3)]
    assert out[-1].route == "wellbeing"
    assert out[-1].reasons[0].code == "concern_raised"


def test_a_conversation_at_tier_two_changes_neither_tier_nor_follow_up():
    """A conversation recorded while at Tier 2 leaves the tier and the follow-up as they were."""
    base = weeks("a", [6, 6, 6, 6, 4, 4])
    without = run(base, until_week=5)
    with_talk = run([*base, intervention("a", "conversation_held", at(6, 0, 9))], until_week=5)
    assert with_talk == without
    assert moves(with_talk) == [(0, 1), (1, 2)]
