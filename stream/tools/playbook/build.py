"""The playbook from a policy and a dispatch configuration: pure, no file and no clock."""

from __future__ import annotations

from schemas.transitions import Route
from stream.actions.links import ACTIONS
from stream.actions.page import CHECKLIST, LABELS
from stream.core.policy import Policy
from stream.dispatch.config import ROUTE_ROLES, DispatchConfig, Recipients
from stream.dispatch.privacy import NEVER_SENT, OFF_THE_LIST, SHARED
from stream.tools.playbook.examples import WHO, scripts
from stream.tools.playbook.model import Playbook, Privacy, TierInfo
from stream.tools.playbook.thresholds import (
    EXPOSED,
    days,
    pct,
    role_rows,
    signals,
    timeline,
    tree,
    week_rule,
)


def _channels(route: Route, config: DispatchConfig, configured: bool) -> str:
    if not configured:
        return "set in the dispatch file (none was given to this playbook)"
    names = config.routes.get(route, [])
    if not names:
        return "none configured: these messages are not sent"
    return ", ".join(f"{name} ({config.channels[name].type})" for name in names)


def _told(route: Route) -> tuple[str, ...]:
    roles = ROUTE_ROLES[route]
    first, *others = (WHO[role] for role in roles)
    return (first, *(f"{who}, informed" for who in others))


def _service(name: str, recipients: Recipients, configured: bool) -> str:
    if not configured:
        return f"{name}: the team's own address, or the default one (in the dispatch file)."
    teams = sorted(recipients.teams)
    own = f"; its own for {len(teams)} team(s): {', '.join(teams)}" if teams else ""
    default = "a default address" if recipients.default else "no default address"
    return f"{name}: {default}{own}."


def _tiers(policy: Policy, config: DispatchConfig, configured: bool) -> tuple[TierInfo, ...]:
    tiers, follow, quiet = policy.tiers, policy.follow_up, config.quiet_hours
    exposed = f"a drop of more than {pct(policy.activity.major_drop)} in a {EXPOSED} role"
    weekends = " and at weekends" if quiet.weekends else ""
    every = config.nudge_every_days
    limit = f"At most one nudge every {days(every)}." if every else "No limit on nudges."
    hours = f"{quiet.start:%H:%M} to {quiet.end:%H:%M}"

    def tier(title: str, means: list[str], route: Route, notes: list[str]) -> TierInfo:
        told = _told(route) if route != "resolved" else ("whoever was told before",)
        channels = _channels(route, config, configured)
        return TierInfo(title, tuple(means), route, told, channels, tuple(notes))

    return (
        tier("Tier 1: alert", [
            "a week of dipping activity", "an assessment fall",
            "a missed assignment below the role's threshold",
        ], "learner_nudge", [
            f"Nudges wait out quiet hours ({hours}{weekends}, the learner's time).", limit,
        ]),
        tier("Tier 2: concern", [
            f"dips in {tiers.tier2_dip_weeks} consecutive weeks",
            "missed assignments at the role's threshold",
            *([exposed] if tiers.exposed_major_dip_tier == 2 else []),
        ], "manager_outreach", [
            f"The message carries a conversation script and a follow-up date "
            f"{days(follow.days)} later ({days(follow.exposed_days)} in a {EXPOSED} role).",
        ]),
        tier("Tier 3: high risk", [
            f"dips in {tiers.tier3_dip_weeks} consecutive weeks",
            f"a compliance module more than {days(tiers.compliance_overdue_days)} overdue "
            "(any day in a compliance-sensitive role)",
            "an assessment fall in a week of a major drop (a performance impact)",
            "Tier 2 still holding at the follow-up date",
            *([exposed] if tiers.exposed_major_dip_tier == 3 else []),
        ], "hr_escalation", [_service("HR", config.hr, configured)]),
        tier("A concern raised", [
            "the learner raised a health or personal concern, recorded by the manager",
        ], "wellbeing", [
            "The learner goes to Tier 3, and the wellbeing service, not HR, is asked to help.",
            _service("Wellbeing", config.wellbeing, configured),
        ]),
        tier("Back down", [
            "a closed week without any warning sign, or a manager recording 'resolved'",
        ], "resolved", ["The good news goes to whoever was told before about this learner."]),
    )  # fmt: skip


def privacy() -> Privacy:
    return Privacy(
        shared=tuple(SHARED.values()),
        never=(*NEVER_SENT.values(), OFF_THE_LIST),
    )


def build(
    policy: Policy,
    config: DispatchConfig | None = None,
    policy_file: str | None = None,
    dispatch_file: str | None = None,
) -> Playbook:
    """The playbook of `policy`, with who is told over which channels from `config` (the
    defaults when None: the templates shipped, no channel); the files' names, if any, for
    the playbook to say where it came from."""
    configured = config is not None
    dispatch = config if config is not None else DispatchConfig()
    return Playbook(
        policy_file=policy_file,
        dispatch_file=dispatch_file,
        weeks=week_rule(policy),
        major_drop=pct(policy.activity.major_drop),
        roles=role_rows(policy),
        signals=signals(policy),
        tiers=_tiers(policy, dispatch, configured),
        timeline=timeline(policy, dispatch.nudge_every_days),
        scripts=scripts(policy, dispatch),
        checklist=CHECKLIST,
        records=tuple(LABELS[action] for action in ACTIONS["manager"]),
        tree=tree(policy),
        privacy=privacy(),
    )
