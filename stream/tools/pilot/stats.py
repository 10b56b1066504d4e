"""Difference in differences of ratio measures, with bootstrap intervals, and the rule
that says when the groups are too small to say anything.

A measure is a ratio of sums over learners: on-time completions over assignments due,
voluntary leavers over learner-weeks at risk, conversations on time over Tier 2 arrivals.
Each learner gives four numbers (numerator and denominator, before and during the pilot),
so the same learners are followed through both periods. The estimate is

    DiD = (pilot during - pilot before) - (comparison during - comparison before)

of the group ratios, and for a rate, also the ratio of rate ratios
(pilot during / pilot before) / (comparison during / comparison before).

The interval is a percentile bootstrap: learners are resampled with replacement within
each group (the pilot team and the comparison teams apart, each keeping its size), the
estimate is computed again, and the 2.5th and 97.5th percentiles of `resamples` such
estimates are the 95% interval. The generator is seeded: a history gives the same
interval every time.

The warning rule (`Rule`): a cell (a group in a period) with fewer than `min_learners`
learners or fewer than `min_events` events (the numerator and the denominator's counts
the rule names: assignments due, voluntary leavers, Tier 2 arrivals) cannot support an
estimate: it is "not enough data", never a 0. An interval wider than `max_width` (for
a ratio of ratios: an upper bound more than `max_fold` times the lower) says the data
cannot tell an effect from none at that scale: the estimate is shown with that warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
RESAMPLES = 2000
SEED = 15
_BLOCK = 4_000_000  # weights computed at once: resamples x learners, at most


@dataclass(frozen=True)
class Rule:
    """When a cell is too small, and when an interval is too wide (see the module)."""

    min_learners: int
    min_events: int
    events: str  # what `min_events` counts, for the warning's sentence
    max_width: float  # of the DiD's interval, in the measure's own unit
    max_fold: float = 10.0  # of a ratio of ratios' interval: upper / lower


@dataclass(frozen=True)
class Cell:
    """One group in one period: learners with a denominator, and the sums."""

    learners: int
    numerator: float
    denominator: float
    events: float  # what the rule counts (see `Rule.events`)
    enough: bool

    @property
    def ratio(self) -> float | None:
        """The group's ratio, or None when the cell cannot support one."""
        if not self.enough or self.denominator <= 0:
            return None
        return self.numerator / self.denominator


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its 95% interval; None for each when the data cannot say."""

    value: float | None
    low: float | None
    high: float | None
    warning: str | None

    def covers(self, x: float) -> bool:
        """Whether the interval holds `x` (never, without an interval)."""
        return self.low is not None and self.high is not None and self.low <= x <= self.high


@dataclass(frozen=True)
class Comparison:
    """A measure for the pilot team against the comparison teams, before and during."""

    pilot_before: Cell
    pilot_during: Cell
    comparison_before: Cell
    comparison_during: Cell
    did: Estimate
    ratio: Estimate | None  # the ratio of rate ratios, for rates

    def cells(self) -> list[tuple[str, str, Cell]]:
        return [
            ("pilot", "before", self.pilot_before),
            ("pilot", "during", self.pilot_during),
            ("comparison", "before", self.comparison_before),
            ("comparison", "during", self.comparison_during),
        ]


def per_learner(rows: list[tuple[float, float, float, float]]) -> Array:
    """Learners' (numerator before, denominator before, numerator during, denominator
    during) as an array of shape (learners, 4)."""
    if not rows:
        return np.zeros((0, 4))
    return np.asarray(rows, dtype=np.float64)


def compare(
    pilot: Array,
    comparison: Array,
    rule: Rule,
    events: Callable[[Array, int], float],
    with_ratio: bool = False,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Comparison:
    """The DiD of a ratio measure (see the module); `events(group, period)` counts what the
    rule counts in a cell (period 0 before, 1 during)."""
    cells = [
        _cell(group, period, rule, events) for group in (pilot, comparison) for period in (0, 1)
    ]
    pb, pd, cb, cd = cells
    enough = all(c.enough for c in cells)
    small = [name for name, c in zip(_NAMES, cells, strict=True) if not c.enough]
    why = (
        f"not enough data: {', '.join(small)} "
        f"{'has' if len(small) == 1 else 'have'} fewer than {rule.min_learners} learners "
        f"or {rule.min_events} {rule.events}"
    )
    if not enough:
        none = Estimate(None, None, None, why)
        return Comparison(pb, pd, cb, cd, none, none if with_ratio else None)
    rng = np.random.default_rng(seed)
    boot_p = _resampled_sums(pilot, resamples, rng)
    boot_c = _resampled_sums(comparison, resamples, rng)
    sums_p, sums_c = pilot.sum(axis=0), comparison.sum(axis=0)
    did = _estimate(_did(sums_p[None, :], sums_c[None, :])[0], _did(boot_p, boot_c), rule)
    ratio = None
    if with_ratio:
        point = _ratio_of_ratios(sums_p[None, :], sums_c[None, :])[0]
        ratio = _ratio_estimate(point, _ratio_of_ratios(boot_p, boot_c), rule)
    return Comparison(pb, pd, cb, cd, did, ratio)


_NAMES = ("the pilot team before", "the pilot team during", "the comparison before",
          "the comparison during")  # fmt: skip


def _cell(group: Array, period: int, rule: Rule, events: Callable[[Array, int], float]) -> Cell:
    num, den = group[:, 2 * period], group[:, 2 * period + 1]
    learners = int(np.count_nonzero(den > 0))
    counted = events(group, period)
    enough = learners >= rule.min_learners and counted >= rule.min_events and den.sum() > 0
    return Cell(learners, float(num.sum()), float(den.sum()), float(counted), bool(enough))


def _resampled_sums(group: Array, resamples: int, rng: np.random.Generator) -> Array:
    """The four sums of `resamples` resamples of the group's learners, with replacement."""
    n = len(group)
    out = np.empty((resamples, 4))
    block = max(1, _BLOCK // max(n, 1))
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=size)  # times each is drawn
        out[start : start + size] = counts @ group
    return out


def _rates(sums: Array) -> tuple[Array, Array]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return sums[:, 0] / sums[:, 1], sums[:, 2] / sums[:, 3]


def _did(pilot: Array, comparison: Array) -> Array:
    pb, pd = _rates(pilot)
    cb, cd = _rates(comparison)
    return np.asarray((pd - pb) - (cd - cb), dtype=np.float64)


def _ratio_of_ratios(pilot: Array, comparison: Array) -> Array:
    pb, pd = _rates(pilot)
    cb, cd = _rates(comparison)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray((pd / pb) / (cd / cb), dtype=np.float64)


def _interval(boot: Array) -> tuple[float, float] | None:
    """The 95% percentile interval, or None when over 1% of the resamples have no value
    (a denominator of 0: the data cannot carry the estimate)."""
    finite = boot[np.isfinite(boot)]
    if len(finite) < 0.99 * len(boot):
        return None
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)


def _estimate(point: float, boot: Array, rule: Rule) -> Estimate:
    interval = _interval(boot)
    if interval is None or not np.isfinite(point):
        return Estimate(None, None, None, "not enough data: resamples without a value")
    low, high = interval
    warning = None
    if high - low > rule.max_width:
        warning = f"the interval is wider than {rule.max_width:g}: the data cannot tell"
    return Estimate(float(point), low, high, warning)


def _ratio_estimate(point: float, boot: Array, rule: Rule) -> Estimate:
    """A ratio of ratios: no value when a cell's rate is 0 (in the data or in over 1% of
    the resamples), a warning when its interval spans more than `max_fold`."""
    positive = np.where(boot > 0, boot, np.nan)
    interval = _interval(positive)
    if interval is None or not (np.isfinite(point) and point > 0):
        return Estimate(None, None, None, "not enough data: a rate of 0 in a cell")
    low, high = interval
    warning = None
    if high > rule.max_fold * low:
        warning = f"the interval spans more than {rule.max_fold:g}-fold: the data cannot tell"
    return Estimate(float(point), low, high, warning)
