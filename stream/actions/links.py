"""The action link each message to a manager, HR or the wellbeing service carries.

One link per transition and recipient: a token (`stream.actions.tokens`) granting that
recipient the actions of their role on that transition's learner, until it expires (a
number of days from when the message was planned: the links are for people, on the wall
clock, even when the transitions replay an older history).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from schemas.roster import LearnerProfile
from schemas.transitions import TierTransition
from stream.actions.tokens import Action, ActionKeys, Grant, Recipient
from stream.settings import Settings

ACTIONS: dict[Recipient, tuple[Action, ...]] = {
    "manager": (
        "conversation_held", "support_plan", "concern_raised", "resolved", "not_useful",
        "incorrectly_flagged",
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

        def links(role: str) -> dict[str, str]:
            if role not in ACTIONS:
                return {}
            recipient: Recipient = role
            grant = Grant(
                transition_id=t.id,
                learner_id=t.learner_id,
                recipient=recipient,
                recipient_id=profile.manager_id if profile and role == "manager" else None,
                team=profile.team if profile else None,
                actions=ACTIONS[recipient],
                expires=now + dt.timedelta(days=self.days),
            )
            return {"act": f"{self.base_url.rstrip('/')}/act/{self.keys.issue(grant)}"}

        return links


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
    return ActionLinks(keys, settings.public_url or own_url, settings.action_link_days)
