"""The policy in words: the role table, the rules every role shares, the timeline and the
decision tree. Every number comes from the policy; every sentence a message would carry
comes from `stream.core.reason_text`, written from example numbers just past the threshold.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import get_args

from schemas.roster import AssignmentKind
from stream.actions.page import STEPS
from stream.core.policy import Policy, Role
from stream.core.reason_text import Number, Value, assignments, count, render
from stream.core.weeks import week_of_date
from stream.tools.playbook.model import Edge, Moment, Node, RoleRow, Signal, Tree

BASELINE = 10.0  # the example learner's baseline, events a week
DAY = dt.date(2026, 3, 2)  # the examples' Monday: the week before it was judged that morning
WEEK = week_of_date(DAY) - 1  # the examples' week
EXPOSED = "customer-facing, compliance-sensitive or leadership-pipeline"
KINDS: tuple[str, ...] = get_args(AssignmentKind)


def pct(share: float) -> str:
    """A share as a whole percentage: 0.5 -> "50%"."""
    return f"{round(100 * share)}%"


def days(n: int) -> str:
    return count(n, "day", "days")


def weeks(n: int) -> str:
    return count(n, "week", "weeks")


def either(items: Sequence[str]) -> str:
    """Items joined as a list of choices: "a", "a or b", "a, b or c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def flags(role: Role) -> str:
    return ", ".join(flag.replace("_", "-") for flag in role.exposure()) or "none"


def dip_activity(policy: Policy) -> int:
    """The most events a week that is still a dip against the example baseline."""
    return max(0, math.ceil(BASELINE * policy.activity.dip_below) - 1)


def major_activity(policy: Policy) -> int:
    """The most events a week that is still a major drop against the example baseline."""
    return max(0, math.ceil(BASELINE * (1 - policy.activity.major_drop)) - 1)


def dip_numbers(activity: int, persistence: int) -> dict[str, Number]:
    return {
        "activity": activity,
        "baseline": BASELINE,
        "drop_pct": round(100 * (1 - activity / BASELINE)),
        "persistence_weeks": persistence,
    }


def role_row(name: str, policy: Policy) -> RoleRow:
    """A role's row: its flags and the thresholds that depend on the role."""
    role, tiers = policy.role(name), policy.tiers
    limits = role.missed_thresholds
    missed = either([assignments(limits[k], k) for k in sorted(limits)]) if limits else "none"
    nudge_only = [k for k in KINDS if k not in limits]
    if nudge_only:
        missed += f" (a missed {either(nudge_only)}: a nudge only)"
    exposed = bool(role.exposure())
    follow_up = policy.follow_up.exposed_days if exposed else policy.follow_up.days
    return RoleRow(
        name=name,
        exposure=flags(role),
        missed=missed,
        major_drop=(
            f"Tier {tiers.exposed_major_dip_tier} at once"
            if exposed
            else "Tier 1, then by the weeks in a row"
        ),
        compliance_overdue=(
            "Tier 3 from its first day overdue"
            if role.compliance_sensitive
            else f"Tier 3 when more than {days(tiers.compliance_overdue_days)} overdue"
        ),
        follow_up=days(follow_up),
    )


def role_rows(policy: Policy) -> tuple[RoleRow, ...]:
    """Every role of the policy, `default` first, then by name."""
    names = sorted(policy.roles, key=lambda n: (n != "default", n))
    return tuple(role_row(name, policy) for name in names)


def _activity_signals(policy: Policy) -> list[Signal]:
    act, tiers = policy.activity, policy.tiers
    dip, major = dip_activity(policy), major_activity(policy)
    return [
        Signal(
            "Activity dip",
            f"a week below {pct(act.dip_below)} of the learner's baseline (a drop of more "
            f"than {pct(1 - act.dip_below)}); the baseline is the mean of up to "
            f"{weeks(act.baseline_weeks)} without a dip, and needs at least "
            f"{weeks(act.min_baseline_weeks)} and {act.min_baseline_events:g} events a week",
            "Tier 1: a nudge to the learner",
            render("minor_dip", dip_numbers(dip, 1)),
        ),
        Signal(
            "Major drop",
            f"a drop of more than {pct(act.major_drop)} in one week",
            f"Tier 1; Tier {tiers.exposed_major_dip_tier} at once in a {EXPOSED} role",
            render(
                "exposed_major_dip",
                {"major_drop_pct": round(100 * act.major_drop), "exposure": ["customer_facing"]},
            ),
        ),
        Signal(
            "Dips in a row",
            f"a dip in {tiers.tier2_dip_weeks} consecutive weeks",
            "Tier 2: a conversation with the manager",
            render("repeated_dip", dip_numbers(dip, tiers.tier2_dip_weeks)),
        ),
        Signal(
            "Disengagement",
            f"a dip in {tiers.tier3_dip_weeks} consecutive weeks",
            "Tier 3: HR is asked to help",
            render("disengagement", dip_numbers(major, tiers.tier3_dip_weeks)),
        ),
    ]


def _assessment_signals(policy: Policy) -> list[Signal]:
    rules = policy.assessments
    failed = "; a failed assessment counts too" if rules.failed_is_fall else ""
    mean = 0.8
    example = {"failed": 0, "score": round(mean - rules.fall, 2), "previous_mean": mean,
               "previous_count": rules.previous_scores}  # fmt: skip
    return [
        Signal(
            "Assessment fall",
            f"a score at least {rules.fall:g} below the mean of up to "
            f"{count(rules.previous_scores, 'previous score', 'previous scores')} (at least "
            f"{rules.min_previous_scores} needed){failed}",
            "Tier 1: a nudge to the learner",
            render("assessment_fall", example),
        ),
        Signal(
            "Performance impact",
            f"an assessment fall in the same week as a drop of more than "
            f"{pct(policy.activity.major_drop)}",
            "Tier 3: HR is asked to help",
            render("performance_impact", {}),
        ),
    ]


def _assignment_signals(policy: Policy) -> list[Signal]:
    window, tiers = policy.assignments, policy.tiers
    lasting = [k for k in KINDS if k in window.until_completed]
    windowed = [k for k in KINDS if k not in window.until_completed]
    counting = []
    if windowed:
        counting.append(f"a missed {either(windowed)} counts until completed or for "
                        f"{days(window.counting_days)} after its due date")  # fmt: skip
    if lasting:
        counting.append(f"a missed {either(lasting)} counts until completed")
    limits = {str(k): n for k, n in policy.role("default").missed_thresholds.items()}
    kind = min(limits, key=lambda k: (limits[k], k)) if limits else ""
    example: dict[str, Value] = {kind: limits.get(kind, 0), "limits": {kind: limits.get(kind, 0)}}
    if kind in windowed:
        example |= {"days": window.counting_days, "windowed": [kind]}
    days_limit = tiers.compliance_overdue_days
    overdue = days_limit + 1
    return [
        Signal(
            "Missed assignments",
            "; ".join(counting),
            "Tier 1 below the role's threshold; Tier 2 at it (the roles' table)",
            render("missed_assignments", example) if limits else "",
        ),
        Signal(
            "Compliance overdue",
            f"a compliance module more than {days(tiers.compliance_overdue_days)} overdue "
            "(in a compliance-sensitive role: any day overdue)",
            "Tier 3: HR is asked to help",
            render("compliance_overdue", {"overdue_days": overdue, "limit_days": days_limit}),
        ),
    ]


def _people_signals(policy: Policy) -> list[Signal]:
    quiet = policy.de_escalation
    return [
        Signal(
            "A concern raised",
            "the learner raised a health or personal concern (the manager records it)",
            "Tier 3: the wellbeing service is asked to help",
            render("concern_raised", {}),
        ),
        Signal(
            "Follow-up",
            "Tier 2 still holds on the follow-up date",
            "Tier 3: HR is asked to help",
            render("follow_up_unresolved", {"follow_up_due": DAY.isoformat()}),
        ),
        Signal(
            "Recovery",
            f"a closed week with none of the above ({weeks(quiet.quiet_weeks_per_step)} a step; "
            f"from Tier 3, {weeks(quiet.tier3_quiet_weeks)})",
            "one tier down; a manager who records 'resolved' ends the episode (Tier 0)",
            render("quiet_weeks", {"quiet_weeks": quiet.quiet_weeks_per_step, "week": WEEK}),
        ),
    ]


def signals(policy: Policy) -> tuple[Signal, ...]:
    """The rules every role shares, in the order of the framework's signals."""
    return (
        *_activity_signals(policy),
        *_assessment_signals(policy),
        *_assignment_signals(policy),
        *_people_signals(policy),
    )


def week_rule(policy: Policy) -> str:
    grace = policy.weeks.close_grace_hours
    return (
        f"Weeks are ISO weeks (Monday to Sunday) in the {policy.timezone} timezone. A week is "
        f"judged {grace:g} hours after it ends; activity reported after that is recorded as late "
        "and does not change the week's result."
    )


def timeline(policy: Policy, nudge_every_days: int) -> tuple[Moment, ...]:
    """When to talk and when to follow up, week by week of a decline."""
    tiers, follow = policy.tiers, policy.follow_up
    grace = policy.weeks.close_grace_hours
    limit = f"at most one every {days(nudge_every_days)}" if nudge_every_days else "no limit"
    return (
        Moment(f"Every Monday, {grace:g} hours after the week ends",
               "tierwatch compares the week with the learner's baseline, assessments and "
               "due dates.", "Nothing: the learner is observed."),
        Moment("The first week of a dip",
               f"Tier 1: the learner gets a friendly nudge outside quiet hours ({limit}).",
               "Nothing yet: one-off dips that resolve within a week need nothing more."),
        Moment(f"Week {tiers.tier2_dip_weeks} of dips in a row, or missed assignments at "
               "the role's threshold",
               f"Tier 2: the manager gets a conversation script, with a follow-up date "
               f"{days(follow.days)} later ({days(follow.exposed_days)} in a {EXPOSED} role).",
               "Talk this week, in private: use the script and the checklist below, then "
               "record the conversation (or a support plan) from the link in the message."),
        Moment("The follow-up date",
               "tierwatch looks again at what happened since the conversation. If Tier 2 "
               "still holds, HR is asked to help (Tier 3).",
               "Follow up with the learner on that day. A support plan recorded with a date "
               "moves the follow-up to that date."),
        Moment(f"Week {tiers.tier3_dip_weeks} of dips in a row, a compliance module more "
               f"than {days(tiers.compliance_overdue_days)} overdue, or a performance impact",
               "Tier 3: HR is asked to agree a support plan with the manager.",
               "Work with HR on the support plan: this is support, not a disciplinary step."),
        Moment("Any time the learner raises a health or personal concern",
               "Tier 3: the wellbeing service offers a confidential conversation.",
               "Record the concern from the link; keep learning expectations light."),
        Moment("Each closed week without a warning sign",
               f"The tier falls one step (from Tier 3 after "
               f"{weeks(policy.de_escalation.tier3_quiet_weeks)}); whoever was told hears "
               "the good news.", "Nothing, or record 'resolved' to end the episode."),
    )  # fmt: skip


def tree(policy: Policy) -> Tree:
    """The decision path of the framework: the action page's steps, with the policy's rules
    on the way from one to the next."""
    tiers = policy.tiers
    major = pct(policy.activity.major_drop)
    details = {
        "observe": "Tier 0: nobody is told",
        "nudge": "Tier 1: a nudge to the learner",
        "conversation": "Tier 2: the manager talks with the learner",
        "support plan": "Tier 2: a plan agreed, followed up on its date",
        "escalate": "Tier 3: HR or wellbeing help",
    }
    nodes = tuple(Node(step.replace(" ", "_"), step.capitalize(), details[step]) for step in STEPS)
    keys = [node.key for node in nodes]
    labels = (
        "a dip week, an assessment fall or a missed assignment",
        f"dips {tiers.tier2_dip_weeks} weeks in a row or missed assignments at the role's "
        f"threshold (at once: a drop of more than {major} in an exposed role)",
        "the manager and the learner agree a support plan",
        f"Tier 2 still holds at the follow-up, dips {tiers.tier3_dip_weeks} weeks in a row, "
        f"a compliance module more than {days(tiers.compliance_overdue_days)} overdue, or a "
        "concern raised",
    )
    edges = [Edge(a, b, label) for a, b, label in zip(keys[:-1], keys[1:], labels, strict=True)]
    back = "one step down a quiet week; 'resolved': back to observe"
    edges.append(Edge(keys[-1], keys[0], back, back=True))
    notes = (
        f"A drop of more than {major} in a {EXPOSED} role goes to Tier "
        f"{tiers.exposed_major_dip_tier} at once, without waiting for the weeks in a row.",
        "A compliance module overdue, a performance impact or a raised concern escalates from "
        "any step; a raised concern goes to the wellbeing service rather than HR.",
        "A support plan is optional: without one, the follow-up date of the conversation "
        "decides whether to escalate.",
    )
    return Tree(nodes, tuple(edges), notes)
