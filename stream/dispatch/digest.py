"""From a manager's weekly digest (`schemas.teams.TeamDigest`) to the messages to send.

The digest goes to the manager (route `team_digest`; by default on the channels of the
manager's outreach, `DispatchConfig.channels_for`): how many of their people are at each
tier, how many conversations or follow-ups are overdue or due this week, and the signed
link to their team view. Counts only: names are on the view, behind the link. Like every
message it comes from a template, carries the allow-listed payload below and passes the
privacy scan; its id is the digest's (the manager's and the week's), so a digest made
again after a crash is delivered once. Pure: the link is passed in.
"""

from __future__ import annotations

from typing import Any

from schemas.teams import TeamDigest
from stream.dispatch.config import ChannelConfig, DigestRoute, DispatchConfig, EmailChannelConfig
from stream.dispatch.plan import Missing, Plan, Planned, compose
from stream.dispatch.templates import Templates

ROUTE: DigestRoute = "team_digest"


def outbound_digest(digest: TeamDigest, links: dict[str, str]) -> dict[str, Any]:
    """The only data a digest's message may carry: counts, the week, the day, links."""
    return {
        "id": digest.id,
        "type": "team_digest",
        "route": ROUTE,
        "manager": {"id": digest.manager_id, "name": digest.manager.name},
        "week": digest.week,
        "date": digest.at.date().isoformat(),
        "people": digest.people,
        "tiers": [  # the highest first; only tiers someone is at
            {"tier": tier, "people": n}
            for tier, n in sorted(digest.by_tier.items(), reverse=True)
            if n
        ],
        "overdue": digest.overdue,
        "due_this_week": digest.due_this_week,
        "links": links,
    }


def to(channel: ChannelConfig, digest: TeamDigest) -> str | None:
    """Where a channel reaches the manager: their e-mail address, or the endpoint URL."""
    return digest.manager.email if isinstance(channel, EmailChannelConfig) else channel.url


def plan_digest(
    digest: TeamDigest, config: DispatchConfig, templates: Templates, team_link: str | None
) -> Plan:
    """The messages of a manager's digest (never deferred: it is the manager's, at the
    start of their week)."""
    result = Plan()
    channels = config.channels_for(ROUTE)
    if not channels:
        result.skipped.append(f"no channel for {ROUTE}")
    links = {**config.links, **({"team": team_link} if team_link else {})}
    context = outbound_digest(digest, links)
    for name in channels:
        made = compose(
            ROUTE, "manager", name, to(config.channels[name], digest), context, digest.id,
            digest.id, None, config, templates,
        )  # fmt: skip
        if isinstance(made, Missing):
            result.missing.append(made)
        else:
            result.messages.append(Planned(made, "manager"))
    return result
