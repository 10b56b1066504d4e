"""A delivery waiting on the retry topic: the rendered message, who it is for, and when
to try again."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

REDRIVE_REASON = "redrive"  # the `reason` of a delivery brought back by `tierwatch dlq redrive`


class PendingDelivery(BaseModel):
    """One message to one role over one channel, due at `due_at` (round 0: deferred by quiet
    hours; round n: the n-th retry after the in-process attempts failed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    learner_id: str
    role: Literal["learner", "manager", "hr", "wellbeing"]
    id: str  # the message's idempotency key: the transition id (+ "." + role after the first)
    route: str
    channel: str
    recipient: str
    subject: str
    text: str
    html: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    round: int = Field(ge=0)
    due_at: AwareDatetime
    reason: str = ""


class ParkedDelivery(BaseModel):
    """What a dispatch dead letter holds of a delivery it gave up on: which one it was, not
    what it said. The rendered message is parked in the learner's dispatch state, which an
    erasure deletes; `tierwatch dlq redrive` asks the worker to try it again."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    channel: str
    role: Literal["learner", "manager", "hr", "wellbeing"]
    route: str
    round: int = Field(ge=0)


class RedriveRequest(BaseModel):
    """On the retry topic (keyed by learner): try a parked delivery again, unless delivered.
    The worker finds the message in the learner's dispatch state; if the learner was
    erased (or the delivery is no longer parked) nothing is sent, and a line is logged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    learner_id: str
    id: str
    channel: str
    role: Literal["learner", "manager", "hr", "wellbeing"]
    reason: Literal["redrive"] = "redrive"
