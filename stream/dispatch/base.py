"""What a channel is given and what it answers.

A `Message` is already rendered and already passed the privacy filter: a channel only
delivers it. `deliver` never raises for a delivery problem; it answers a `Result` saying
whether to count it delivered, retry it (and after how long, if the receiver said), give up
on it for good, or stop using the endpoint.

Every channel checks its timeout the same way when configured (`check_timeout`) and logs
each attempt as the same event (`log_attempt`): the message's id and route, the outcome,
the status and detail, never the recipient or the text.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

log = structlog.get_logger("tierwatch.dispatch")


@dataclass(frozen=True, slots=True)
class Message:
    """One message for one recipient over one channel.

    `id` is the idempotency key: the transition id (a receiver de-duplicates on it; for
    a webhook it is the `webhook-id` header). `payload` is the JSON body for webhook and
    chat channels; `subject`, `text` and `html` are for email (and chat text).
    """

    id: str
    route: str
    channel: str  # the configured channel's name
    recipient: str  # an address or URL: whoever the channel reaches
    subject: str
    text: str
    html: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"  # a transient failure: 5xx, 429, a timeout, a reset connection
    FAILED = "failed"  # a permanent refusal (4xx other than 410 and 429): do not retry
    DISABLED = "disabled"  # 410 Gone: stop using this endpoint until reconfigured


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    detail: str = ""
    retry_after_s: float | None = None  # what the receiver asked for (Retry-After)
    status: int | None = None  # the HTTP status or SMTP code, when there was one


class Channel(Protocol):
    """Something that delivers messages: a signed webhook, a chat webhook, email."""

    name: str

    async def deliver(self, message: Message) -> Result:
        """Try to deliver once; never raise for a delivery problem."""


def check_timeout(name: str, timeout_s: float) -> None:
    """A ValueError naming the channel when its timeout is not positive."""
    if timeout_s <= 0:
        raise ValueError(f"channel {name!r}: timeout_s must be positive, not {timeout_s}")


def log_attempt(channel: str, message: Message, result: Result) -> None:
    """The `dispatch.attempt` event of one delivery attempt (no address, no text)."""
    log.info(
        "dispatch.attempt",
        channel=channel,
        message_id=message.id,
        route=message.route,
        outcome=result.outcome.value,
        status=result.status,
        detail=result.detail,
    )
