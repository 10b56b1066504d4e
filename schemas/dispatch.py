"""A delivery waiting on the retry topic: the rendered message, who it is for, and when
to try again."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.limits import Instant

REDRIVE_REASON = "redrive"  # the `reason` of a delivery brought back by `tierwatch dlq redrive`

# Generous bounds (a rendered message is a few kB): what a retry topic's reader accepts.
LearnerId = Field(min_length=1, max_length=512)
MessageId = Field(min_length=1, max_length=128)  # a transition id, "." and a role
RouteName = Field(min_length=1, max_length=64)
ChannelName = Field(min_length=1, max_length=256)  # as named in the dispatch file


class PendingDelivery(BaseModel):
    """One message to one role over one channel, due at `due_at` (round 0: deferred by quiet
    hours; round n: the n-th retry after the in-process attempts failed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    learner_id: str = LearnerId
    role: Literal["learner", "manager", "hr", "wellbeing"]
    # the message's idempotency key: the transition id (+ "." + role after the first)
    id: str = MessageId
    route: str = RouteName
    channel: str = ChannelName
    recipient: str = Field(max_length=4096)  # an address or a URL
    subject: str = Field(max_length=2000)
    text: str = Field(max_length=200_000)
    html: str | None = Field(default=None, max_length=1_000_000)
    payload: dict[str, Any] = Field(default_factory=dict, max_length=256)
    round: int = Field(ge=0)
    due_at: Instant
    # the transition's time: the nudge limit counts in it, as planning does (None: written
    # by a release before this field; its due time stands in)
    at: Instant | None = None
    reason: str = Field(default="", max_length=4000)


class ParkedDelivery(BaseModel):
    """What a dispatch dead letter holds of a delivery it gave up on: which one it was, not
    what it said. The rendered message is parked in the learner's dispatch state, which an
    erasure deletes; `tierwatch dlq redrive` asks the worker to try it again."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = MessageId
    channel: str = ChannelName
    role: Literal["learner", "manager", "hr", "wellbeing"]
    route: str = RouteName
    round: int = Field(ge=0)


class RedriveRequest(BaseModel):
    """On the retry topic (keyed by learner): try a parked delivery again, unless delivered.
    The worker finds the message in the learner's dispatch state; if the learner was
    erased (or the delivery is no longer parked) nothing is sent, and a line is logged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    learner_id: str = LearnerId
    id: str = MessageId
    channel: str = ChannelName
    role: Literal["learner", "manager", "hr", "wellbeing"]
    reason: Literal["redrive"] = "redrive"
