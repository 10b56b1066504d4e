"""From an overdue follow-up (`schemas.reminders.FollowUpOverdue`) to the messages to send.

- A **reminder** goes to the manager (route `follow_up_reminder`): the conversation asked
  for by the follow-up date has not been recorded, with the action link to record it
  (bound to the arrival's transition, as the outreach's link was).
- An **escalation** goes to the recipients of Tier 3 (route `follow_up_overdue`): HR of
  the learner's team, and the manager, informed, as an escalation to HR is; each with the
  link of their role.

Each route sends on the channels `routes` names for it, and by default on those of the
route its recipients already hear on (the outreach's, the escalation's:
`DispatchConfig.channels_for`). Messages come from templates, carry the allow-listed
payload below and pass the privacy scan, as a transition's do (`stream.dispatch.plan`);
a message's id is the follow-up's id (with the role after the first, `message_id`).
Pure: the learner's profile, reasons and links are passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from schemas.reminders import FollowUpOverdue, ReminderStep
from schemas.roster import LearnerProfile
from schemas.transitions import Reason
from stream.dispatch.config import ROUTE_ROLES, DispatchConfig, FollowUpRoute
from stream.dispatch.plan import Missing, Plan, Planned, address, compose, message_id
from stream.dispatch.templates import Templates

ROUTE_OF: dict[ReminderStep, FollowUpRoute] = {
    "reminder": "follow_up_reminder",
    "escalation": "follow_up_overdue",
}


def outbound_overdue(
    overdue: FollowUpOverdue,
    profile: LearnerProfile | None,
    reasons: Sequence[Reason],
    links: Mapping[str, str],
) -> dict[str, Any]:
    """The only data about an overdue follow-up that a message may carry: who, the tier
    and its reasons (aggregated sentences), the follow-up date, the day of the reminder
    and of this message (never a time of day), links."""
    return {
        "id": overdue.id,
        "type": "follow_up_overdue",
        "step": overdue.step,
        "route": ROUTE_OF[overdue.step],
        "learner": {
            "id": overdue.learner_id,
            "name": profile.name if profile else None,
            "team": profile.team if profile else None,
        },
        "manager": {
            "id": profile.manager_id if profile else None,
            "name": profile.manager_name if profile else None,
        },
        "tier": overdue.tier,
        "date": overdue.at.date().isoformat(),
        "follow_up_due": overdue.talk_by.isoformat(),
        "reminded_on": overdue.reminded_on.isoformat() if overdue.reminded_on else None,
        "reasons": [{"code": r.code, "text": r.text, "numbers": dict(r.numbers)} for r in reasons],
        "links": dict(links),
    }


def plan_overdue(
    overdue: FollowUpOverdue,
    profile: LearnerProfile | None,
    reasons: Sequence[Reason],
    config: DispatchConfig,
    templates: Templates,
    *,
    links_for: Callable[[str], Mapping[str, str]] | None = None,
) -> Plan:
    """The messages an overdue follow-up calls for (never deferred: quiet hours are for
    learners); `links_for(role)`: the signed action link of a role's messages."""
    result = Plan()
    route = ROUTE_OF[overdue.step]
    roles = ROUTE_ROLES[route]
    channels = config.channels_for(route)
    if not channels:
        result.skipped.append(f"no channel for {route}")
    language = profile.language if profile else None
    for role in roles:
        links = {**config.links, **(links_for(role) if links_for is not None else {})}
        context = outbound_overdue(overdue, profile, reasons, links)
        for name in channels:
            to = address(role, config.channels[name], profile, config)
            made = compose(
                route, role, name, to, context, overdue.id, message_id(overdue.id, role, roles),
                language, config, templates,
            )  # fmt: skip
            if isinstance(made, Missing):
                result.missing.append(made)
            else:
                result.messages.append(Planned(made, role))
    return result
