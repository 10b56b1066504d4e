"""`stream.tools.pilot.stats`: the difference in differences of a ratio measure, its
bootstrap interval (learners resampled within each group, seeded), and the rule that says
"not enough data" rather than a number the groups cannot support."""

from __future__ import annotations

import numpy as np
import pytest

from stream.tools.pilot.stats import Rule, compare, per_learner

RULE = Rule(min_learners=20, min_events=30, events="assignments due", max_width=0.5)


def _due(group, period):
    return float(group[:, 2 * period + 1].sum())


def _learners(n: int, before: float, during: float, seed: int, due: int = 4):
    """n learners with `due` assignments a period, each on time with the given chance."""
    rng = np.random.default_rng(seed)
    return per_learner(
        [(rng.binomial(due, before), due, rng.binomial(due, during), due) for _ in range(n)]
    )


def test_the_estimate_is_the_difference_of_the_groups_changes():
    """DiD = (pilot during - before) - (comparison during - before), of the group ratios."""
    pilot = per_learner([(1, 2, 2, 2)] * 30)  # 0.5 -> 1.0
    comparison = per_learner([(1, 4, 2, 4)] * 40)  # 0.25 -> 0.5
    found = compare(pilot, comparison, RULE, _due)
    assert found.did.value == pytest.approx(0.5 - 0.25)
    assert found.pilot_before.ratio == 0.5
    assert found.comparison_during.ratio == 0.5
    assert found.did.covers(0.25)  # no spread between learners: the interval is the point


def test_a_planted_difference_is_inside_the_interval_and_none_covers_zero():
    """Synthetic learners: +0.2 planted in the pilot is covered; with none, 0 is."""
    comparison = _learners(600, 0.6, 0.6, seed=1)
    planted = compare(_learners(300, 0.6, 0.8, seed=2), comparison, RULE, _due)
    assert planted.did.covers(0.2)
    assert not planted.did.covers(0.0)
    assert planted.did.warning is None
    none = compare(_learners(300, 0.6, 0.6, seed=3), comparison, RULE, _due)
    assert none.did.covers(0.0)


def test_the_same_data_gives_the_same_interval():
    """Seeded: the interval is a function of the data."""
    a, b = _learners(100, 0.5, 0.7, seed=4), _learners(100, 0.5, 0.5, seed=5)
    assert compare(a, b, RULE, _due).did == compare(a, b, RULE, _due).did
    assert compare(a, b, RULE, _due, seed=1).did != compare(a, b, RULE, _due, seed=2).did


def test_a_small_cell_gives_no_number_and_a_warning():
    """Fewer learners than the rule wants in one cell: no estimate, no interval, a reason."""
    found = compare(_learners(10, 0.5, 0.9, seed=6), _learners(200, 0.5, 0.5, seed=7), RULE, _due)
    assert found.did.value is None
    assert found.did.low is None
    assert found.pilot_before.ratio is None  # the small cell's own rate is not stated either
    assert found.comparison_before.ratio is not None
    assert "not enough data" in (found.did.warning or "")
    assert "fewer than 20 learners" in (found.did.warning or "")


def test_too_few_events_in_a_cell_is_not_enough_data():
    """Enough learners, but fewer events than the rule wants (one assignment each, 25)."""
    pilot = _learners(25, 0.5, 0.9, seed=8, due=1)
    found = compare(pilot, _learners(200, 0.5, 0.5, seed=9), RULE, _due)
    assert found.did.value is None


def test_an_interval_wider_than_the_scale_is_said():
    """A wide interval keeps its number but says the data cannot tell."""
    narrow = Rule(min_learners=20, min_events=30, events="assignments due", max_width=0.05)
    found = compare(
        _learners(40, 0.5, 0.6, seed=10), _learners(40, 0.5, 0.5, seed=11), narrow, _due
    )
    assert found.did.value is not None
    assert "cannot tell" in (found.did.warning or "")


def test_the_ratio_of_rate_ratios_and_a_rate_of_zero():
    """For rates: (pilot during/before) / (comparison during/before); a cell rate of 0 has none."""
    rule = Rule(min_learners=2, min_events=0, events="leavers", max_width=1.0)
    pilot = per_learner([(1, 10, 1, 20)] * 30)  # 0.1 -> 0.05
    comparison = per_learner([(1, 10, 1, 10)] * 30)  # 0.1 -> 0.1
    found = compare(pilot, comparison, rule, lambda g, p: float(g[:, 2 * p].sum()), with_ratio=True)
    assert found.ratio is not None
    assert found.ratio.value == pytest.approx(0.5)
    zero = per_learner([(0, 10, 1, 10)] * 30)
    none = compare(zero, comparison, rule, lambda g, p: 0.0, with_ratio=True)
    assert none.ratio is not None
    assert none.ratio.value is None
    assert none.did.value is not None  # the absolute difference still has one
