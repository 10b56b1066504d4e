"""Manager interventions: a raised concern, a resolution, and what they never do."""

from __future__ import annotations

import datetime as dt

from stream.core.step import Notice, intervention_key, step
from tests.kit import (
    POLICY,
    at,
    codes,
    intervention,
    moves,
    notices,
    profile,
    run,
    run_all,
    weeks,
)


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


def test_a_concern_recorded_twice_gives_one_wellbeing_transition():
    """The same concern applied again (a record processed twice after a crash) changes nothing:
    one 3 -> 3 transition, one duplicate notice, the same state as applying it once."""
    concern = intervention("a", "concern_raised", at(7, 2))
    base = [*weeks("a", [5, 5, 5, 5]), concern]
    once = run_all(base, until_week=7)
    twice = run_all([*base, concern], until_week=7)
    assert [o for o in twice if not isinstance(o, Notice)] == [
        o for o in once if not isinstance(o, Notice)
    ]
    assert moves(run([*base, concern], until_week=7)) == [(0, 1), (1, 2), (2, 3), (3, 3)]
    assert notices(twice).count("duplicate") == notices(once).count("duplicate") + 1


def test_an_intervention_is_applied_once_at_the_step():
    """`step` with a repeated intervention returns the state unchanged and a duplicate notice."""
    state, _ = step(None, profile("a"), POLICY)
    concern = intervention("a", "concern_raised", at(0, 2))
    state, first = step(state, concern, POLICY)
    before = state.model_dump_json()
    state, again = step(state, concern, POLICY)
    assert [type(o).__name__ for o in first] == ["TierTransition"]
    assert notices(again) == ["duplicate"]
    assert state.model_dump_json() == before


def test_interventions_with_ids_count_once_per_id():
    """Two sender ids at the same instant are two interventions; one id sent twice is one."""
    state, _ = step(None, profile("a"), POLICY)
    held = intervention("a", "resolved", at(0, 2))
    first, second = (held.model_copy(update={"id": i}) for i in ("form-1", "form-2"))
    state, _ = step(state, first, POLICY)
    state, out = step(state, second, POLICY)
    assert notices(out) == []
    state, out = step(state, first, POLICY)
    assert notices(out) == ["duplicate"]


def test_the_key_of_an_intervention_ignores_the_note_and_the_offset():
    """A form re-posted with an edited note, or the same instant in another offset, is a repeat."""
    concern = intervention("a", "concern_raised", at(0, 2))
    noted = concern.model_copy(update={"note": "edited"})
    shifted = concern.model_copy(
        update={"at": concern.at.astimezone(dt.timezone(dt.timedelta(hours=5)))}
    )
    assert intervention_key(concern) == intervention_key(noted) == intervention_key(shifted)
    other = concern.model_copy(update={"transition_id": "t-2"})
    assert intervention_key(other) != intervention_key(concern)
