"""Signed, expiring action links.

A link in a manager's (or HR's, or the wellbeing service's) message carries a token that
grants its recipient a few actions on one transition of one learner, until it expires.
The token is a Fernet token (`cryptography`: AES-128-CBC with an HMAC-SHA256, a
timestamp, URL-safe): encrypted as well as signed, so the learner id inside it is not
readable from the link. Keys rotate: the first key of `TIERWATCH_ACTION_KEYS` signs, every
key verifies (`MultiFernet`), so a new key is added in front and the old one dropped once
the links it signed have expired.

The grant says when it expires (`expires`): a token past it is refused as expired, one
that does not decrypt under any key as invalid (tampered, or signed with a retired key),
each with its own page.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Literal, TypeVar

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stream.errors import TierwatchError

Action = Literal[
    "conversation_held",
    "support_plan",
    "concern_raised",
    "resolved",
    "snoozed",
    "not_useful",
    "incorrectly_flagged",
]
Recipient = Literal["manager", "hr", "wellbeing"]
MAX_TOKEN = 2048  # characters: a longer token is refused before it is decrypted
TOKEN_CHARS = re.compile(r"[A-Za-z0-9_=-]+")  # URL-safe base64, nothing else


class Grant(BaseModel):
    """What a link allows: these actions, on this learner's transition, to this recipient."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    transition_id: str = Field(min_length=1, max_length=64)
    learner_id: str = Field(min_length=1, max_length=512)
    recipient: Recipient
    recipient_id: str | None = Field(default=None, max_length=512)  # the manager's id
    team: str | None = Field(default=None, max_length=512)
    actions: tuple[Action, ...] = Field(min_length=1)
    expires: dt.datetime
    at: dt.datetime | None = None  # the transition's instant (none in links before it)

    def of_episode(self, episode_from: dt.datetime | None) -> bool:
        """Whether the link's transition is of the episode that began at `episode_from`
        (or later): a link of an earlier episode acts on nothing."""
        return self.at is None or episode_from is None or self.at >= episode_from


class TeamGrant(BaseModel):
    """What a team-view link allows: reading one manager's team view, until it expires."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    view: Literal["team"] = "team"
    manager_id: str = Field(min_length=1, max_length=512)
    expires: dt.datetime


G = TypeVar("G", "Grant", "TeamGrant")


class TokenRefused(TierwatchError):
    """A token that grants nothing: `why` is `expired` or `invalid`."""

    def __init__(self, why: Literal["expired", "invalid"]) -> None:
        super().__init__(why)
        self.why = why


class ActionKeys:
    """Issues and reads action tokens with a list of keys (the first signs)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one action key is needed (TIERWATCH_ACTION_KEYS)")
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except ValueError as error:  # not 32 url-safe base64-encoded bytes
            raise ValueError(f"an action key is not a Fernet key: {error}") from None

    @staticmethod
    def generate() -> str:
        """A new key (`tierwatch actions new-key`)."""
        return Fernet.generate_key().decode()

    def issue(self, grant: Grant | TeamGrant) -> str:
        return self.seal(grant.model_dump_json().encode())

    def seal(self, data: bytes) -> str:
        """Encrypt and sign `data` under the first key."""
        return self._fernet.encrypt(data).decode()

    def open(self, token: str) -> bytes:
        """What `seal` sealed under any of the keys; `TokenRefused("invalid")` otherwise."""
        if not token or len(token) > MAX_TOKEN or not TOKEN_CHARS.fullmatch(token):
            raise TokenRefused("invalid")  # (Fernet alone would take spaces inside one)
        try:
            return self._fernet.decrypt(token.encode())
        except (InvalidToken, ValueError):
            raise TokenRefused("invalid") from None

    def read(self, token: str, now: dt.datetime) -> Grant:
        """The grant of an action link's token; `TokenRefused` when it is invalid (a team
        link's token too) or expired."""
        return _unexpired(Grant, self.open(token), now)

    def read_team(self, token: str, now: dt.datetime) -> TeamGrant:
        """The grant of a team-view link's token (an action link's is invalid here)."""
        return _unexpired(TeamGrant, self.open(token), now)


def _unexpired(kind: type[G], data: bytes, now: dt.datetime) -> G:
    try:
        grant = kind.model_validate_json(data)
    except ValidationError:
        raise TokenRefused("invalid") from None
    if now >= grant.expires:
        raise TokenRefused("expired")
    return grant
