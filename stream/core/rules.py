"""The tier rules: which conditions hold, each with the tier it calls for and why."""

from __future__ import annotations

from typing import NamedTuple

from schemas.transitions import Exposure, Reason, Route, Severity
from stream.core.policy import Policy, Role
from stream.core.signals import Dip, Fall, Missed

_ORDINAL = {1: "first", 2: "second", 3: "third"}
SEVERITY_RANK: dict[Severity, int] = {"none": 0, "minor": 1, "major": 2, "critical": 3}


class Condition(NamedTuple):
    """One rule that holds: the tier it calls for, its severity, its reason."""

    tier: int
    severity: Severity
    reason: Reason
    route: Route | None = None  # overrides the tier's usual route (a raised concern)


def _weeks(n: int) -> str:
    return f"{_ORDINAL.get(n, f'{n}th')} week in a row"


def activity_conditions(
    dip: Dip, persistence: int, exposure: list[Exposure], policy: Policy
) -> list[Condition]:
    """Conditions from one closed week's activity against the baseline."""
    if dip.level == "none" or dip.baseline is None:
        return []
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
    found = [Condition(tier, dip.level, Reason(code=code, text=text, numbers=numbers))]
    if dip.level == "major" and exposure and tiers.exposed_major_dip_tier > tier:
        found.append(
            Condition(
                tiers.exposed_major_dip_tier,
                "major",
                Reason(
                    code="exposed_major_dip",
                    text=f"A drop of more than {round(100 * policy.activity.major_drop)}% "
                    f"in a {', '.join(e.replace('_', '-') for e in exposure)} role acts at once.",
                    numbers={"drop_pct": round(100 * dip.drop)},
                ),
            )
        )
    return found


def fall_condition(fall: Fall) -> Condition:
    """An assessment fall calls for a nudge."""
    if fall.score is not None and fall.previous_mean is not None and not fall.failed:
        text = (
            f"Assessment score {fall.score:.2f} is {fall.previous_mean - fall.score:.2f} below "
            f"the average of the previous {fall.previous_count} ({fall.previous_mean:.2f})."
        )
    else:
        text = "An assessment was not passed."
    numbers: dict[str, float | int | str] = {"failed": int(fall.failed)}
    if fall.score is not None:
        numbers["score"] = round(fall.score, 3)
    if fall.previous_mean is not None:
        numbers["previous_mean"] = round(fall.previous_mean, 3)
    return Condition(1, "minor", Reason(code="assessment_fall", text=text, numbers=numbers))


def performance_condition(dip: Dip) -> list[Condition]:
    """An assessment fall in the same week as a major dip is a performance impact."""
    if dip.level != "major":
        return []
    return [
        Condition(
            3,
            "critical",
            Reason(
                code="performance_impact",
                text="An assessment fall in the same week as a major drop in activity.",
                numbers={"drop_pct": round(100 * dip.drop)},
            ),
        )
    ]


def deadline_conditions(
    missed: Missed, role: Role, exposure: list[Exposure], policy: Policy
) -> list[Condition]:
    """Conditions from missed assignments still counting: how many (against the role's
    thresholds), and how long a compliance module has been overdue."""
    if missed.total == 0:
        return []
    found = [_missed_condition(missed, role, policy)]
    overdue = _overdue_condition(missed.compliance_overdue_days, exposure, policy)
    if overdue is not None:
        found.append(overdue)
    return found


def _missed_condition(missed: Missed, role: Role, policy: Policy) -> Condition:
    window = policy.assignments.counting_days
    kinds = sorted(missed.by_kind.items())
    counts = ", ".join(f"{n} {kind}" for kind, n in kinds)
    numbers: dict[str, float | int | str] = dict(kinds)
    thresholds = role.missed_thresholds
    reached = [kind for kind, n in kinds if kind in thresholds and n >= thresholds[kind]]
    if not reached:
        text = f"Missed assignments in the last {window} days: {counts}."
        return Condition(1, "minor", Reason(code="missed_assignment", text=text, numbers=numbers))
    limits = ", ".join(f"{thresholds[k]} {k}" for k in reached)
    text = (
        f"Missed assignments in the last {window} days ({counts}) reached the "
        f"role's threshold ({limits})."
    )
    return Condition(2, "major", Reason(code="missed_assignments", text=text, numbers=numbers))


def _overdue_condition(overdue: int, exposure: list[Exposure], policy: Policy) -> Condition | None:
    limit = policy.tiers.compliance_overdue_days
    if overdue > limit:
        text = f"A compliance module is {overdue} days overdue (more than {limit})."
        numbers: dict[str, float | int | str] = {"overdue_days": overdue, "limit_days": limit}
        return Condition(
            3, "critical", Reason(code="compliance_overdue", text=text, numbers=numbers)
        )
    if overdue > 0 and "compliance_sensitive" in exposure:
        text = f"A compliance module is {overdue} days overdue in a compliance-sensitive role."
        reason = Reason(
            code="compliance_sensitive_overdue", text=text, numbers={"overdue_days": overdue}
        )
        return Condition(3, "critical", reason)
    return None


CONCERN = Condition(
    3,
    "critical",
    Reason(
        code="concern_raised", text="The learner raised a health or personal concern.", numbers={}
    ),
    route="wellbeing",
)
