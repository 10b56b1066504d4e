"""The tier rules: which conditions hold, each with the tier it calls for and why."""

from __future__ import annotations

from typing import NamedTuple

from schemas.transitions import Exposure, Route, Severity
from stream.core.policy import Policy, Role
from stream.core.reason_text import Cause, Number, Value, cause
from stream.core.signals import Dip, Fall, Missed

SEVERITY_RANK: dict[Severity, int] = {"none": 0, "minor": 1, "major": 2, "critical": 3}


class Condition(NamedTuple):
    """One rule that holds: the tier it calls for, its severity, its reason (a `Cause`; a
    transition carries it with its sentence)."""

    tier: int
    severity: Severity
    cause: Cause
    route: Route | None = None  # overrides the tier's usual route (a raised concern)


def activity_conditions(
    dip: Dip, persistence: int, exposure: list[Exposure], policy: Policy
) -> list[Condition]:
    """Conditions from one closed week's activity against the baseline."""
    if dip.level == "none" or dip.baseline is None:
        return []
    drop_pct = round(100 * dip.drop)
    numbers: dict[str, Number] = {
        "activity": dip.activity,
        "baseline": round(dip.baseline, 2),
        "drop_pct": drop_pct,
        "persistence_weeks": persistence,
    }
    tiers = policy.tiers
    if persistence >= tiers.tier3_dip_weeks:
        tier, code = 3, "disengagement"
    elif persistence >= tiers.tier2_dip_weeks:
        tier, code = 2, "repeated_dip"
    else:
        tier, code = 1, f"{dip.level}_dip"
    found = [Condition(tier, dip.level, cause(code, numbers, exact={"baseline": dip.baseline}))]
    if dip.level == "major" and exposure and tiers.exposed_major_dip_tier > tier:
        exposed = cause(
            "exposed_major_dip",
            {"drop_pct": drop_pct},
            major_drop_pct=round(100 * policy.activity.major_drop),
            exposure=list(exposure),
        )
        found.append(Condition(tiers.exposed_major_dip_tier, "major", exposed))
    return found


def fall_condition(fall: Fall) -> Condition:
    """An assessment fall calls for a nudge."""
    numbers: dict[str, Number] = {"failed": int(fall.failed)}
    exact: dict[str, float] = {}
    if fall.score is not None:
        numbers["score"] = round(fall.score, 3)
        exact["score"] = fall.score
    if fall.previous_mean is not None:
        numbers["previous_mean"] = round(fall.previous_mean, 3)
        exact["previous_mean"] = fall.previous_mean
    if fall.failed or len(exact) < 2:  # the sentence names no score
        return Condition(1, "minor", cause("assessment_fall", numbers))
    found = cause("assessment_fall", numbers, exact, previous_count=fall.previous_count)
    return Condition(1, "minor", found)


def week_fall_condition(week: int) -> Condition:
    """A closed week in which an assessment fell calls for a nudge."""
    return Condition(1, "minor", cause("assessment_fall", week=week))


def performance_condition(dip: Dip) -> list[Condition]:
    """An assessment fall in the same week as a major dip is a performance impact."""
    if dip.level != "major":
        return []
    impact = cause("performance_impact", {"drop_pct": round(100 * dip.drop)})
    return [Condition(3, "critical", impact)]


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
    kinds = sorted(missed.by_kind.items())
    numbers: dict[str, Number] = dict(kinds)
    thresholds = role.missed_thresholds
    reached: dict[str, int] = {
        kind: thresholds[kind] for kind, n in kinds if kind in thresholds and n >= thresholds[kind]
    }
    # the kinds that stop counting after the window (milestones) say so; duties do not
    lasting = policy.assignments.until_completed
    windowed: list[str] = [kind for kind, _ in kinds if kind not in lasting]
    extra: dict[str, Value] = (
        {"days": policy.assignments.counting_days, "windowed": windowed} if windowed else {}
    )
    if not reached:
        return Condition(1, "minor", Cause("missed_assignment", numbers, extra))
    found = Cause("missed_assignments", numbers, {**extra, "limits": reached})
    return Condition(2, "major", found)


def _overdue_condition(overdue: int, exposure: list[Exposure], policy: Policy) -> Condition | None:
    limit = policy.tiers.compliance_overdue_days
    if overdue > limit:
        numbers: dict[str, Number] = {"overdue_days": overdue, "limit_days": limit}
        return Condition(3, "critical", cause("compliance_overdue", numbers))
    if overdue > 0 and "compliance_sensitive" in exposure:
        found = cause("compliance_sensitive_overdue", {"overdue_days": overdue})
        return Condition(3, "critical", found)
    return None


CONCERN = Condition(3, "critical", cause("concern_raised"), route="wellbeing")
