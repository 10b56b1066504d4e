"""The conditions: what each signal calls for, with the tier, the severity and why.

A dip (by its persistence and the role's exposure), an assessment fall, missed and overdue
assignments (by the role's thresholds), a raised concern. What the tier then does, rise,
hold, fall, escalate at the follow-up, is decided in `stream.core.tiers`."""

from __future__ import annotations

from typing import NamedTuple

from schemas.transitions import Exposure, Route, Severity
from stream.core.policy import Policy, Role, Tiers
from stream.core.reason_text import Cause, Number, Value, cause
from stream.core.signals import Dip, Fall, Missed
from stream.core.state import DipLevel

SEVERITY_RANK: dict[Severity, int] = {"none": 0, "minor": 1, "major": 2, "critical": 3}


class Condition(NamedTuple):
    """One rule that holds: the tier it calls for, its severity, its reason (a `Cause`; a
    transition carries it with its sentence)."""

    tier: int
    severity: Severity
    cause: Cause
    route: Route | None = None  # overrides the tier's usual route (a raised concern)


def dip_tiers(
    level: DipLevel, persistence: int, exposure: list[Exposure], tiers: Tiers
) -> tuple[int, int]:
    """The tiers a week's dip calls for: by its persistence (1, 2 from `tier2_dip_weeks`
    weeks in a row, 3 from `tier3_dip_weeks`), and `exposed_major_dip_tier` for a major dip
    in an exposed role (else 0). No dip calls for nothing: (0, 0)."""
    if level == "none":
        return 0, 0
    if persistence >= tiers.tier3_dip_weeks:
        by_weeks = 3
    elif persistence >= tiers.tier2_dip_weeks:
        by_weeks = 2
    else:
        by_weeks = 1
    exposed = tiers.exposed_major_dip_tier if level == "major" and exposure else 0
    return by_weeks, exposed


_DIP_CODES = {2: "repeated_dip", 3: "disengagement"}


def activity_conditions(
    dip: Dip, persistence: int, exposure: list[Exposure], policy: Policy
) -> list[Condition]:
    """Conditions from one closed week's activity against the baseline (`dip_tiers`)."""
    if dip.level == "none" or dip.baseline is None:
        return []
    drop_pct = round(100 * dip.drop)
    numbers: dict[str, Number] = {
        "activity": dip.activity,
        "baseline": round(dip.baseline, 2),
        "drop_pct": drop_pct,
        "persistence_weeks": persistence,
    }
    tier, exposed_tier = dip_tiers(dip.level, persistence, exposure, policy.tiers)
    code = _DIP_CODES.get(tier, f"{dip.level}_dip")
    found = [Condition(tier, dip.level, cause(code, numbers, exact={"baseline": dip.baseline}))]
    if exposed_tier > tier:
        exposed = cause(
            "exposed_major_dip",
            {"drop_pct": drop_pct},
            major_drop_pct=round(100 * policy.activity.major_drop),
            exposure=list(exposure),
        )
        found.append(Condition(exposed_tier, "major", exposed))
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
