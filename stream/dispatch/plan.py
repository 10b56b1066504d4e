"""From a tier transition to the messages to send: who, over which channels, in which words,
and when (quiet hours, the nudge limit). Pure: time and the learner's dispatch history are
passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.roster import LearnerProfile
from schemas.transitions import TierTransition
from stream.dispatch.base import Message
from stream.dispatch.config import (
    ROUTE_ROLES,
    ChannelConfig,
    DispatchConfig,
    EmailChannelConfig,
    QuietHours,
    Role,
)
from stream.dispatch.privacy import outbound, scan, scan_text
from stream.dispatch.templates import Templates


@dataclass(frozen=True, slots=True)
class Planned:
    """A message to deliver, not before `not_before` (quiet hours), to someone in `role`."""

    message: Message
    role: Role
    not_before: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Missing:
    """A message that cannot be sent: no recipient, or the privacy check refused it."""

    role: Role
    channel: str
    reason: str


@dataclass(slots=True)
class Plan:
    messages: list[Planned] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def roles_for(transition: TierTransition, told: set[Role]) -> tuple[Role, ...]:
    """Who hears of a transition: by route, and for `resolved` whoever was told before."""
    if transition.route == "resolved":
        order: tuple[Role, ...] = ("learner", "manager", "hr", "wellbeing")
        return tuple(role for role in order if role in told)
    return ROUTE_ROLES[transition.route]


def recipients(
    transition: TierTransition,
    told: set[Role],
    last_nudge: dt.date | None,
    now: dt.datetime,
    config: DispatchConfig,
) -> tuple[tuple[Role, ...], str | None]:
    """Who a transition's messages go to (`roles_for`), and why nobody when nobody is: the
    end of a leaver's evaluation (HR's record: told to no one), a nudge within
    `nudge_every_days` of the last one, or a fall with nobody told before."""
    if any(reason.code == "left" for reason in transition.reasons):
        return (), "the learner left: the end of their evaluation is told to no one"
    recent = last_nudge is not None and (now.date() - last_nudge).days < config.nudge_every_days
    if transition.route == "learner_nudge" and recent and last_nudge is not None:
        return (), f"a nudge was sent on {last_nudge.isoformat()}"
    roles = roles_for(transition, told)
    if not roles:
        return (), f"nobody was addressed for this learner before ({transition.route})"
    return roles, None


def message_id(transition_id: str, role: Role, roles: tuple[Role, ...]) -> str:
    """The idempotency key of a message: the transition id for the first role a route
    reaches, with the role appended for the others (an escalation to HR and the manager
    over one webhook is two messages, and each needs its own `webhook-id`)."""
    return transition_id if role == roles[0] else f"{transition_id}.{role}"


def address(
    role: Role, channel: ChannelConfig, profile: LearnerProfile | None, config: DispatchConfig
) -> str | None:
    """Where a channel reaches someone in `role`: an e-mail address, or the endpoint URL."""
    if not isinstance(channel, EmailChannelConfig):
        return channel.url
    team = profile.team if profile else None
    if role == "learner":
        return profile.email if profile else None
    if role == "manager":
        return profile.manager_email if profile else None
    if role == "hr":
        return config.hr.for_team(team)
    return config.wellbeing.for_team(team)


def _allowed(moment: dt.datetime, quiet: QuietHours) -> bool:
    if quiet.weekends and moment.weekday() >= 5:
        return False
    t, start, end = moment.time(), quiet.start, quiet.end
    night = (t >= start or t < end) if start > end else start <= t < end
    return not night


def quiet_until(now: dt.datetime, tz: ZoneInfo, quiet: QuietHours) -> dt.datetime | None:
    """The next moment outside quiet hours and weekends, or None if `now` is outside them.
    A quiet period always ends at `quiet.end` or at midnight, on some day of the next week."""
    local = now.astimezone(tz)
    if _allowed(local, quiet):
        return None
    for days in range(9):
        day = local.date() + dt.timedelta(days=days)
        for at in sorted({dt.time(0), quiet.end}):
            candidate = dt.datetime.combine(day, at, tzinfo=tz)
            if candidate > local and _allowed(candidate, quiet):
                return candidate
    return None


def _zone(profile: LearnerProfile | None, default: ZoneInfo) -> ZoneInfo:
    try:
        return ZoneInfo(profile.timezone) if profile and profile.timezone else default
    except (ZoneInfoNotFoundError, ValueError):
        return default


def compose(
    route: str,
    role: Role,
    name: str,
    to: str | None,
    context: dict[str, Any],
    own_id: str,
    message_id: str,
    language: str | None,
    config: DispatchConfig,
    templates: Templates,
) -> Message | Missing:
    """One message of a route to one role over the channel `name`, at `to`: rendered from
    its template, its payload the allow-listed `context` with what the template made, and
    passed through the privacy scan (`Missing`, with why, when there is no address or the
    scan finds something). Every planner (transitions, overdue follow-ups, digests) ends
    here. `own_id`: the alert's id, which the message may carry."""
    channel = config.channels[name]
    if not to:
        return Missing(role, name, f"no address for the {role}")
    rendered = templates.render(route, role, language, context, channel.type)
    payload = {**context, "role": role, "subject": rendered.subject, "script": rendered.text}
    allowed = [to] if isinstance(channel, EmailChannelConfig) else []
    problems = scan(payload, own_id, allowed) + scan_text(rendered.html, own_id, set(allowed))
    if problems:
        return Missing(role, name, "privacy: " + "; ".join(problems))
    return Message(
        id=message_id, route=route, channel=name, recipient=to, subject=rendered.subject,
        text=rendered.text, html=rendered.html, payload=payload,
    )  # fmt: skip


def plan(
    transition: TierTransition,
    profile: LearnerProfile | None,
    config: DispatchConfig,
    templates: Templates,
    *,
    told: set[Role],
    last_nudge: dt.date | None,
    now: dt.datetime,
    tz: ZoneInfo,
    links_for: Callable[[Role], Mapping[str, str]] | None = None,
    snoozed_until: dt.date | None = None,
) -> Plan:
    """The messages a transition calls for; `links_for(role)`: links a role's messages
    carry besides the configured ones (the signed action link). A manager who snoozed
    prompts about the learner (`snoozed_until`, a day) gets no outreach dated up to it;
    the others' messages go as ever."""
    result = Plan()
    route = transition.route
    roles, skipped = recipients(transition, told, last_nudge, now, config)
    if skipped is not None:  # nobody: a leaver's end, a nudge too soon, a fall told to none
        result.skipped.append(skipped)
        return result
    base = outbound(transition, profile, config.links)
    not_before = (
        quiet_until(now, _zone(profile, tz), config.quiet_hours)
        if route == "learner_nudge"
        else None
    )
    language = profile.language if profile else None
    snoozed = snoozed_until is not None and transition.at.astimezone(tz).date() <= snoozed_until
    if route == "manager_outreach" and snoozed:
        result.skipped.append(f"the manager snoozed prompts until {snoozed_until}")
        roles = tuple(r for r in roles if r != "manager")
    for role in roles:
        more = links_for(role) if links_for is not None else {}
        context = {**base, "links": {**base["links"], **more}} if more else base
        for name in config.routes.get(route, []):
            to = address(role, config.channels[name], profile, config)
            made = compose(
                route, role, name, to, context, transition.id,
                message_id(transition.id, role, roles), language, config, templates,
            )  # fmt: skip
            if isinstance(made, Missing):
                result.missing.append(made)
            else:
                result.messages.append(Planned(made, role, not_before))
    return result
