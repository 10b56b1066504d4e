"""The action link each message to a manager, HR or the wellbeing service carries.

One link per transition and recipient: a token (`stream.actions.tokens`) granting that
recipient the actions of their role on that transition's learner, until it expires (a
number of days from when the message was planned: the links are for people, on the wall
clock, even when the transitions replay an older history).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import structlog

from schemas.roster import LearnerProfile
from schemas.transitions import TierTransition
from stream.actions.tokens import Action, ActionKeys, Grant, Recipient, TeamGrant
from stream.settings import Settings

log = structlog.get_logger("tierwatch.actions")

ACTIONS: dict[Recipient, tuple[Action, ...]] = {
    "manager": (
        "conversation_held", "support_plan", "concern_raised", "resolved", "snoozed",
        "not_useful", "incorrectly_flagged",
    ),
    "hr": ("conversation_held", "support_plan", "resolved", "not_useful", "incorrectly_flagged"),
    "wellbeing": ("conversation_held", "resolved", "not_useful", "incorrectly_flagged"),
}  # fmt: skip


@dataclass(frozen=True)
class ActionLinks:
    keys: ActionKeys
    base_url: str  # where the worker's web pages are opened
    days: int  # how long a link works

    def for_transition(
        self, t: TierTransition, profile: LearnerProfile | None, now: dt.datetime
    ) -> Callable[[str], dict[str, str]]:
        """The links of a transition's messages, by role (none for the learner)."""
        return self.bound_to(t.id, t.learner_id, profile, now, t.at)

    def bound_to(
        self,
        transition_id: str,
        learner_id: str,
        profile: LearnerProfile | None,
        now: dt.datetime,
        at: dt.datetime | None = None,
    ) -> Callable[[str], dict[str, str]]:
        """The links of messages about a learner's transition, by role (an overdue
        follow-up's are bound to the arrival at Tier 2 it chases)."""

        def links(role: str) -> dict[str, str]:
            if role not in ACTIONS:
                return {}
            recipient: Recipient = role
            grant = Grant(
                transition_id=transition_id,
                learner_id=learner_id,
                recipient=recipient,
                recipient_id=profile.manager_id if profile and role == "manager" else None,
                team=profile.team if profile else None,
                actions=ACTIONS[recipient],
                expires=now + dt.timedelta(days=self.days),
                at=at,
            )
            return {"act": f"{self.base_url.rstrip('/')}/act/{self.keys.issue(grant)}"}

        return links

    def team(self, manager_id: str, now: dt.datetime) -> str:
        """The link to a manager's team view (`GET /team/{token}`)."""
        grant = TeamGrant(manager_id=manager_id, expires=now + dt.timedelta(days=self.days))
        return f"{self.base_url.rstrip('/')}/team/{self.keys.issue(grant)}"


def keys_of(settings: Settings) -> ActionKeys | None:
    """The action keys of `TIERWATCH_ACTION_KEYS` (None: no action links)."""
    secret = settings.action_keys
    if secret is None:
        return None
    return ActionKeys([k.strip() for k in secret.get_secret_value().split(",") if k.strip()])


def action_links(settings: Settings, own_url: str) -> ActionLinks | None:
    """The links of a worker whose web pages are at `own_url` (unless `public_url` says)."""
    keys = keys_of(settings)
    if keys is None:
        return None
    base = settings.public_url or named(own_url)
    if _is_ip(urlsplit(base).hostname or ""):
        log.warning(
            "action_links_on_an_ip_address", url=base,
            detail="dispatch refuses messages that carry an IP address: set TIERWATCH_PUBLIC_URL",
        )  # fmt: skip
    return ActionLinks(keys, base, settings.action_link_days)


def named(url: str) -> str:
    """`url` with a loopback address named `localhost` (a worker's own address by default
    is 127.0.0.1, and a message may carry no IP address: `stream.dispatch.privacy`)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not _is_ip(host) or not ipaddress.ip_address(host).is_loopback:
        return url
    netloc = f"localhost:{parts.port}" if parts.port else "localhost"
    return urlunsplit(parts._replace(netloc=netloc))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
