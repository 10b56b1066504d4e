"""Assessment performance: falls against the learner's own recent scores."""

from __future__ import annotations

from schemas import TierTransition
from stream.core.step import step
from stream.core.timeline import schedule
from tests.kit import POLICY, at, codes, evaluated, event, moves, ordered, run, weeks


def scored(learner, week, weekday, score, success=None):
    fields = {"score": score} if score is not None else {}
    if success is not None:
        fields["success"] = success
    return event(learner, at(week, weekday, 14), "assessment", object_id="quiz", **fields)


def test_a_fall_nudges_at_once():
    """Scores 0.80, 0.80 then 0.60 (0.20 below the mean) -> Tier 1 when the 0.60 arrives."""
    records = [scored("a", 0, 0, 0.8), scored("a", 0, 1, 0.8), scored("a", 0, 2, 0.6)]
    out = run(records, until_week=0)
    assert moves(out) == [(0, 1)]
    assert out[0].at == at(0, 2, 14)
    assert out[0].week is None
    assert codes(out[0]) == ["assessment_fall"]
    assert out[0].reasons[0].numbers["previous_mean"] == 0.8


def test_a_fall_of_exactly_the_threshold_counts():
    """Previous 0.70, 0.70; then 0.55 is exactly 0.15 below -> a fall."""
    records = [scored("a", 0, 0, 0.7), scored("a", 0, 1, 0.7), scored("a", 0, 2, 0.55)]
    assert moves(run(records, until_week=0)) == [(0, 1)]


def test_a_small_wobble_is_not_a_fall():
    """Previous 0.80, 0.80; then 0.70 -> 0.10 below: nothing."""
    records = [scored("a", 0, 0, 0.8), scored("a", 0, 1, 0.8), scored("a", 0, 2, 0.7)]
    assert run(records, until_week=0) == []


def test_one_previous_score_is_not_enough():
    """Previous 0.90 only; then 0.30 -> fewer than 2 previous scores: nothing."""
    records = [scored("a", 0, 0, 0.9), scored("a", 0, 1, 0.3)]
    assert run(records, until_week=0) == []


def test_mean_is_over_the_five_most_recent_scores():
    """Scores 0.2 then 0.9 x5; then 0.74: 0.16 below the last five (an all-six mean is 0.78)."""
    records = [scored("a", 0, 0, 0.2)] + [scored("a", 0, 1, 0.9) for _ in range(5)]
    records.append(scored("a", 0, 3, 0.74))
    assert moves(run(records, until_week=0)) == [(0, 1)]


def test_a_failed_assessment_is_a_fall():
    """success=false with no history at all -> Tier 1."""
    out = run([scored("a", 0, 0, None, success=False)], until_week=0)
    assert moves(out) == [(0, 1)]
    assert out[0].reasons[0].text == "An assessment was not passed."


def test_fall_in_the_same_week_as_a_major_dip_is_a_performance_impact():
    """
    week    0 1 2 3 4
    events  6 6 6 6 1 (+ a failed assessment in week 4)
    tier    0 0 0 0 1 at the failure, 3 at week 4's evaluation
    """
    records = [*weeks("a", [6, 6, 6, 6]), scored("a", 4, 2, None, success=False)]
    out = run(records, until_week=4)
    assert moves(out) == [(0, 1), (1, 3)]
    assert codes(out[1])[0] == "performance_impact"
    assert out[1].factors.severity == "critical"


def test_fall_with_a_minor_dip_stays_tier_one():
    """events 6 6 6 6 4, a failure in week 4: a minor dip plus a fall is not Tier 3."""
    records = [*weeks("a", [6, 6, 6, 6, 3]), scored("a", 4, 4, None, success=False)]
    assert moves(run(records, until_week=4)) == [(0, 1)]


def test_a_fall_on_monday_is_not_undone_by_the_previous_weeks_evaluation():
    """
    week    0 1 2 3(fall on Monday) 4
    tier    0 0 0 1 ............... 0    one nudge; week 2's evaluation (Tue W3) is not
                                         a quiet week for a tier set after it closed
    """
    records = [*weeks("a", [6] * 5)] + [scored("a", w, 2, 0.8) for w in (0, 1, 2)]
    records.append(scored("a", 3, 0, 0.5))
    out = run(records, until_week=4)
    assert moves(out) == [(0, 1), (1, 0)]
    assert out[1].week == "2026-W06"  # week 4: the first whole week after the fall's week


def test_a_fall_already_seen_in_the_open_week_blocks_the_step_down():
    """
    week    0 1 2 3 4 5 6(fall on Monday) 7
    events  6 6 6 6 2 6 6                 6
    tier    0 0 0 0 1 . 1 ............... 0   Tier 1 for week 4's dip. Week 5 is quiet, but
                                              at its evaluation (Tue W6) the fall of Mon W6
                                              is already seen: no step down to 0 and a
                                              second nudge for the same fall at week 6's
                                              evaluation; the first quiet week after it (7)
                                              steps down
    """
    records = [*weeks("a", [6, 6, 6, 6, 2, 6, 6, 6])]
    records += [scored("a", w, 2, 0.8) for w in (0, 1)]
    records.append(scored("a", 6, 0, 0.5))
    out = run(records, until_week=7)
    assert moves(out) == [(0, 1), (1, 0)]
    assert out[1].week == "2026-W09"  # week 7


def test_a_fall_in_the_open_week_does_not_hold_a_higher_tier():
    """
    A fall calls for Tier 1: seen in the open week, it does not keep a learner at Tier 2
    whose weeks have gone quiet (2 -> 1 on the quiet week; the fall then holds Tier 1).
    week    0 1 2 3 4 5 6 7(fall on Monday) 8
    events  6 6 6 6 2 2 6 6                 6
    tier    0 0 0 0 1 2 . 1 ............... 1 then 0 at week 8's evaluation
    """
    records = [*weeks("a", [6, 6, 6, 6, 2, 2, 6, 6, 6])]
    records += [scored("a", w, 2, 0.8) for w in (0, 1)]
    records.append(scored("a", 7, 0, 0.5))
    out = run(records, until_week=8)
    assert moves(out) == [(0, 1), (1, 2), (2, 1), (1, 0)]
    assert [t.week for t in out[2:]] == ["2026-W08", "2026-W10"]  # weeks 6 and 8


def test_a_fall_after_the_evaluation_instant_does_not_block_its_step_down():
    """
    week    0 1 2 3 4 5 6(fall Tue 14:00) 7
    events  6 6 6 6 2 6 6                 6
    Week 5 is evaluated at Tue W6 00:00, before the fall. A worker behind its clock may
    take the fall before that tick: the tick must not see a fall later than its instant,
    so both orders give the same moves (1 -> 0 at week 5, 0 -> 1 for the fall, 1 -> 0).
    """
    records = [*weeks("a", [6, 6, 6, 6, 2, 6, 6, 6])]
    records += [scored("a", w, 2, 0.8) for w in (0, 1)]
    fall = event("a", at(6, 1, 14), "assessment", object_id="quiz", score=0.5)
    items = list(schedule(ordered([*records, fall]), POLICY, evaluated(7)))
    tick = next(i for i, item in enumerate(items) if getattr(item, "now", None) == evaluated(5))
    ahead = [item for item in items if item is not fall]
    ahead.insert(tick, fall)  # the fall taken before the tick of Tue W6 00:00
    assert items.index(fall) > tick
    assert _moves(items) == _moves(ahead) == [(0, 1), (1, 0), (0, 1), (1, 0)]


def _moves(items: list) -> list[tuple[int, int]]:
    state, out = None, []
    for item in items:
        state, produced = step(state, item, POLICY)
        out.extend(produced)
    return moves(o for o in out if isinstance(o, TierTransition))
