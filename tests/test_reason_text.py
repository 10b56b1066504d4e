"""Reason sentences: `render` writes, for every reason code, the sentence the rules wrote
before it existed (a state stored without them: `test_reason_text_stored.py`; counts in the
singular or the plural: `test_reason_text_counts.py`)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.transitions import Exposure, Reason
from stream.core import rules
from stream.core.policy import Policy, Role
from stream.core.reason_text import CODES, Cause, cause, render
from stream.core.signals import Dip, Fall, Missed, classify_week
from stream.core.state import LearnerState
from stream.core.weeks import week_label
from tests.kit import POLICY, policy_with

EXPOSURES = st.lists(
    st.sampled_from(["customer_facing", "compliance_sensitive", "leadership_pipeline"]),
    unique=True,
)
POLICIES = st.sampled_from(
    [
        POLICY,
        policy_with(
            activity={"baseline_weeks": 52, "min_baseline_weeks": 1, "major_drop": 0.35},
            assignments={"counting_days": 45},
            tiers={"exposed_major_dip_tier": 3, "compliance_overdue_days": 0},
        ),
    ]
)
SCORES = st.none() | st.floats(0, 1, allow_nan=False)
MANY = settings(max_examples=300, deadline=None)


def stored(found: Cause) -> Cause:
    """The cause after the state holding it was stored as JSON and loaded again."""
    raw = LearnerState(learner_id="a", reasons=[found]).model_dump_json(exclude_defaults=True)
    (back,) = LearnerState.model_validate_json(raw).reasons
    return back


def assert_rendered(conditions: list[rules.Condition], expected: list[Reason]) -> None:
    """The rules' reasons are the expected ones, and so are they once stored and loaded."""
    assert [c.cause.as_reason() for c in conditions] == expected
    assert [stored(c.cause).as_reason() for c in conditions] == expected


# The reasons as the rules wrote them before sentences were rendered (release 69337e1),
# with every count in the singular or the plural since issue 16 (no "1 days", no "21th").


ORDINAL = {1: "first", 2: "second", 3: "third"}
SUFFIX = {1: "st", 2: "nd", 3: "rd"}
NOUNS = {
    "certification": ("certification", "certifications"),
    "compliance": ("compliance module", "compliance modules"),
    "milestone": ("milestone", "milestones"),
}


def _weeks(n: int) -> str:
    suffix = "th" if 10 < n % 100 < 14 else SUFFIX.get(n % 10, "th")
    return f"{ORDINAL.get(n, f'{n}{suffix}')} week in a row"


def _many(n: int, kind: str) -> str:
    one, other = NOUNS[kind]
    return f"{n} {one if n == 1 else other}"


def activity_reasons(
    dip: Dip, persistence: int, exposure: list[Exposure], policy: Policy
) -> list[Reason]:
    assert dip.baseline is not None
    numbers: dict[str, float | int | str] = {
        "activity": dip.activity,
        "baseline": round(dip.baseline, 2),
        "drop_pct": round(100 * dip.drop),
        "persistence_weeks": persistence,
    }
    text = (
        f"Weekly learning activity down {round(100 * dip.drop)}% against the baseline "
        f"({dip.activity} vs {dip.baseline:.1f} events a week), {_weeks(persistence)}."
    )
    tiers = policy.tiers
    if persistence >= tiers.tier3_dip_weeks:
        tier, code = 3, "disengagement"
    elif persistence >= tiers.tier2_dip_weeks:
        tier, code = 2, "repeated_dip"
    else:
        tier, code = 1, f"{dip.level}_dip"
    found = [Reason(code=code, text=text, numbers=numbers)]
    if dip.level == "major" and exposure and tiers.exposed_major_dip_tier > tier:
        found.append(
            Reason(
                code="exposed_major_dip",
                text=f"A drop of more than {round(100 * policy.activity.major_drop)}% "
                f"in a {', '.join(e.replace('_', '-') for e in exposure)} role acts at once.",
                numbers={"drop_pct": round(100 * dip.drop)},
            )
        )
    return found


def fall_reason(fall: Fall) -> Reason:
    if fall.score is not None and fall.previous_mean is not None and not fall.failed:
        n = fall.previous_count
        than = "the previous score" if n == 1 else f"the average of the previous {n} scores"
        text = (
            f"Assessment score {fall.score:.2f} is {fall.previous_mean - fall.score:.2f} below "
            f"{than} ({fall.previous_mean:.2f})."
        )
    else:
        text = "An assessment was not passed."
    numbers: dict[str, float | int | str] = {"failed": int(fall.failed)}
    if fall.score is not None:
        numbers["score"] = round(fall.score, 3)
    if fall.previous_mean is not None:
        numbers["previous_mean"] = round(fall.previous_mean, 3)
    return Reason(code="assessment_fall", text=text, numbers=numbers)


def deadline_reasons(
    missed: Missed, role: Role, exposure: list[Exposure], policy: Policy
) -> list[Reason]:
    window = policy.assignments.counting_days
    kinds = sorted(missed.by_kind.items())
    # since issue 16 duties (compliance, certification) count until completed: only the
    # kinds that stop counting after the window say "due in the last N days"
    last = "the last day" if window == 1 else f"the last {window} days"
    within = {
        k: "" if k in policy.assignments.until_completed else f" due in {last}" for k, _ in kinds
    }
    counts = ", ".join(f"{_many(n, kind)}{within[kind]}" for kind, n in kinds)
    numbers: dict[str, float | int | str] = dict(kinds)
    thresholds = role.missed_thresholds
    reached = [kind for kind, n in kinds if kind in thresholds and n >= thresholds[kind]]
    if not reached:
        text = f"Missed assignments not yet completed: {counts}."
        found = [Reason(code="missed_assignment", text=text, numbers=numbers)]
    else:
        limits = ", ".join(_many(thresholds[k], k) for k in reached)
        text = (
            f"Missed assignments not yet completed ({counts}) reached the "
            f"role's threshold ({limits})."
        )
        found = [Reason(code="missed_assignments", text=text, numbers=numbers)]
    overdue, limit = missed.compliance_overdue_days, policy.tiers.compliance_overdue_days
    days = "1 day" if overdue == 1 else f"{overdue} days"
    if overdue > limit:
        text = f"A compliance module is {days} overdue (more than {limit})."
        numbers = {"overdue_days": overdue, "limit_days": limit}
        found.append(Reason(code="compliance_overdue", text=text, numbers=numbers))
    elif overdue > 0 and "compliance_sensitive" in exposure:
        text = f"A compliance module is {days} overdue in a compliance-sensitive role."
        numbers = {"overdue_days": overdue}
        found.append(Reason(code="compliance_sensitive_overdue", text=text, numbers=numbers))
    return found


# The reasons step.py builds (quiet_weeks, still_down, follow_up_unresolved, resolved, left) are
# checked on whole histories in tests/test_learner_view.py and tests/test_reason_text_stored.py.
ALL_CODES = {
    "minor_dip", "major_dip", "repeated_dip", "disengagement", "exposed_major_dip",
    "assessment_fall", "performance_impact", "missed_assignment", "missed_assignments",
    "compliance_overdue", "compliance_sensitive_overdue", "concern_raised", "resolved",
    "quiet_weeks", "still_down", "follow_up_unresolved", "left",
}  # fmt: skip


def test_every_code_has_a_sentence():
    """The renderer knows every reason code the rules raise, and no other."""
    assert CODES == ALL_CODES


@MANY
@given(
    activity=st.integers(0, 300),
    window=st.lists(st.integers(0, 300), min_size=1, max_size=52),
    persistence=st.integers(1, 60),
    exposure=EXPOSURES,
    policy=POLICIES,
)
def test_an_activity_dip_reads_as_before(
    activity: int, window: list[int], persistence: int, exposure: list[Exposure], policy: Policy
) -> None:
    """Every dip code and the exposed major dip, over baselines of up to 52 weeks."""
    dip = classify_week(activity, window, policy.activity)
    if dip.level == "none":
        return
    found = rules.activity_conditions(dip, persistence, exposure, policy)
    assert_rendered(found, activity_reasons(dip, persistence, exposure, policy))


@MANY
@given(
    activity=st.integers(0, 10_000),
    baseline=st.floats(0.01, 1e4, allow_nan=False),
    major=st.booleans(),
    persistence=st.integers(1, 4),
)
def test_a_dip_reads_as_before_whatever_the_baseline(
    activity: int, baseline: float, major: bool, persistence: int
) -> None:
    """A baseline whose rounding to 2 places would change its sentence keeps the sentence."""
    dip = Dip("major" if major else "minor", activity, baseline, 1.0 - activity / baseline)
    found = rules.activity_conditions(dip, persistence, ["customer_facing"], POLICY)
    assert_rendered(found, activity_reasons(dip, persistence, ["customer_facing"], POLICY))


@MANY
@given(SCORES, SCORES, st.integers(0, 50), st.booleans())
def test_an_assessment_fall_reads_as_before(
    score: float | None, mean: float | None, count: int, failed: bool
) -> None:
    """A fall names the score, the mean and how many were averaged; a failure does not."""
    fall = Fall(score, mean, count, failed)
    assert_rendered([rules.fall_condition(fall)], [fall_reason(fall)])


@given(st.integers(0, 10_000))
def test_a_week_with_a_fall_names_the_week(week: int) -> None:
    """The fall found when its week closes names the week, and carries no numbers."""
    expected = Reason(code="assessment_fall", text=f"An assessment fall in {week_label(week)}.")
    assert_rendered([rules.week_fall_condition(week)], [expected])


@given(st.floats(0.5, 1, allow_nan=False))
def test_a_performance_impact_reads_as_before(drop: float) -> None:
    """A fall in a week of a major dip; the level of a dip without one raises nothing."""
    text = "An assessment fall in the same week as a major drop in activity."
    expected = Reason(code="performance_impact", text=text, numbers={"drop_pct": round(100 * drop)})
    assert_rendered(rules.performance_condition(Dip("major", 0, 9.0, drop)), [expected])
    assert rules.performance_condition(Dip("minor", 0, 9.0, drop)) == []


@MANY
@given(
    by_kind=st.dictionaries(
        st.sampled_from(["milestone", "certification", "compliance"]), st.integers(1, 9)
    ),
    overdue=st.integers(0, 400),
    thresholds=st.dictionaries(
        st.sampled_from(["milestone", "certification", "compliance"]), st.integers(1, 5)
    ),
    exposure=EXPOSURES,
    policy=POLICIES,
)
def test_missed_and_overdue_assignments_read_as_before(
    by_kind: dict, overdue: int, thresholds: dict, exposure: list[Exposure], policy: Policy
) -> None:
    """Missed assignments below and at the role's thresholds, and overdue compliance."""
    missed = Missed(by_kind, overdue)
    if missed.total == 0:
        return
    role = Role(missed_thresholds=thresholds)
    found = rules.deadline_conditions(missed, role, exposure, policy)
    assert_rendered(found, deadline_reasons(missed, role, exposure, policy))


def test_a_raised_concern_reads_as_before():
    """A raised concern: a fixed sentence."""
    text = "The learner raised a health or personal concern."
    assert_rendered([rules.CONCERN], [Reason(code="concern_raised", text=text)])


@given(st.integers(1, 60), st.integers(0, 10_000))
def test_the_reasons_of_a_fall_in_tier_read_as_before(quiet: int, week: int) -> None:
    """The sentences of the reasons the step writes itself, from the values it passes."""
    label = week_label(week)
    closed = "1 closed week" if quiet == 1 else f"{quiet} closed weeks"
    assert cause("quiet_weeks", {"quiet_weeks": quiet}, week=week).text == (
        f"No warning signs in {closed}, up to {label}."
    )
    assert cause("still_down", {"week": label}).text == f"Activity in {label} was still down."
    assert cause("resolved").text == "A manager recorded the situation as resolved."
    due = "2026-02-24"
    assert cause("follow_up_unresolved", {"follow_up_due": due}).text == (
        f"Tier 2 still holds at the follow-up due {due}."
    )


def test_an_unknown_code_has_no_sentence():
    """A code without a writer is an error that names it, not an empty sentence."""
    with pytest.raises(ValueError, match="made_up"):
        render("made_up", {})
