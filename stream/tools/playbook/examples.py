"""The messages of the playbook: an example learner's transition on each route, its reasons
just past the policy's thresholds, rendered by dispatch's own templates with the context
dispatch gives them (`stream.dispatch.privacy.outbound`), so the scripts shown are the
scripts sent. Dates are fixed, so the same policy always gives the same playbook.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from schemas.roster import LearnerProfile
from schemas.transitions import Factors, Reason, Route, Tier, TierTransition
from stream.actions.links import ACTIONS
from stream.core.policy import Policy
from stream.core.reason_text import cause
from stream.core.weeks import week_label
from stream.dispatch.config import ROUTE_ROLES, DispatchConfig, Role
from stream.dispatch.privacy import outbound
from stream.dispatch.templates import Templates
from stream.tools.playbook.model import Script
from stream.tools.playbook.thresholds import DAY, WEEK, dip_activity, dip_numbers, either

PROFILE = LearnerProfile(
    learner_id="example-learner", name="Sam", team="Customer support", manager_id="example-manager",
    manager_name="Alex",
)  # fmt: skip
ACTION_LINK = "(your personal link, in the message)"
WHO: dict[str, str] = {
    "learner": "the learner",
    "manager": "the manager",
    "hr": "HR",
    "wellbeing": "the wellbeing service",
}
RESOLVED_ROLES: tuple[Role, ...] = ("learner", "manager", "hr", "wellbeing")


@dataclass(frozen=True, slots=True)
class Example:
    """An example transition of a route, and who hears of it."""

    transition: TierTransition
    roles: tuple[Role, ...]


def _transition(
    route: Route, from_tier: Tier, to_tier: Tier, reasons: list[Reason], policy: Policy,
    persistence: int = 0, follow_up: int | None = None,
) -> TierTransition:  # fmt: skip
    at = dt.datetime.combine(DAY, dt.time(0), tzinfo=policy.tz)
    at += dt.timedelta(hours=policy.weeks.close_grace_hours)
    severity = "none" if to_tier == 0 else ("minor" if to_tier == 1 else "major")
    return TierTransition(
        id=f"example-{route}",
        learner_id=PROFILE.learner_id,
        from_tier=from_tier,
        to_tier=to_tier,
        at=at,
        week=week_label(WEEK),
        factors=Factors(severity=severity, persistence_weeks=persistence),
        reasons=reasons,
        route=route,
        follow_up_due=DAY + dt.timedelta(days=follow_up) if follow_up is not None else None,
    )


def examples(policy: Policy) -> dict[Route, Example]:
    """One example transition per route: the learner's first dip week (nudge), the dips
    reaching Tier 2 (outreach), Tier 2 still holding at the follow-up (escalation), a concern
    raised (wellbeing), a quiet week after the nudge (resolved)."""
    tiers, dip = policy.tiers, dip_activity(policy)
    week = WEEK
    first = cause("minor_dip", dip_numbers(dip, 1)).as_reason()
    repeated = cause("repeated_dip", dip_numbers(dip, tiers.tier2_dip_weeks)).as_reason()
    unresolved = cause("follow_up_unresolved", {"follow_up_due": DAY.isoformat()}).as_reason()
    still = cause("still_down", {"week": week_label(week)}).as_reason()
    concern = cause("concern_raised").as_reason()
    quiet = cause("quiet_weeks", {"quiet_weeks": 1}, week=week).as_reason()
    n = tiers.tier2_dip_weeks
    moves: dict[Route, TierTransition] = {
        "learner_nudge": _transition("learner_nudge", 0, 1, [first], policy, 1),
        "manager_outreach": _transition(
            "manager_outreach", 1, 2, [repeated], policy, n, policy.follow_up.days
        ),
        "hr_escalation": _transition("hr_escalation", 2, 3, [unresolved, still], policy, n),
        "wellbeing": _transition("wellbeing", 2, 3, [concern], policy, n),
        "resolved": _transition("resolved", 1, 0, [quiet], policy),
    }
    return {
        route: Example(move, RESOLVED_ROLES if route == "resolved" else ROUTE_ROLES[route])
        for route, move in moves.items()
    }


def links_for(role: Role, config: DispatchConfig) -> dict[str, str]:
    """The links a role's message carries: the configured ones, and the action link for
    the roles that have actions (when the worker has action keys)."""
    links = dict(config.links)
    if role in ACTIONS:
        links["act"] = ACTION_LINK
    return links


def channel_types(route: Route, config: DispatchConfig) -> list[str]:
    """The types of the channels configured for a route, in their order, once each."""
    names = config.routes.get(route, [])
    return list(dict.fromkeys(config.channels[name].type for name in names))


def scripts(policy: Policy, config: DispatchConfig) -> tuple[Script, ...]:
    """Every message of every route, once per distinct wording across its channel types (a
    template for one channel type, `<route>.<role>.<type>.j2`, may word it differently)."""
    templates = Templates(config.templates_dir, config.default_language)
    found: list[Script] = []
    for route, example in examples(policy).items():
        for role in example.roles:
            context = outbound(example.transition, PROFILE, links_for(role, config))
            wordings: dict[tuple[str, str], list[str]] = {}
            types: list[str | None] = [*channel_types(route, config)] or [None]
            for kind in types:
                rendered = templates.render(route, role, None, context, kind)
                wordings.setdefault((rendered.subject, rendered.text), []).append(kind or "")
            for (subject, text), kinds in wordings.items():
                named = [k for k in kinds if k]
                on = either(named) if named and len(wordings) > 1 else "every channel"
                found.append(Script(route, WHO[role], on, subject, text))
    return tuple(found)
