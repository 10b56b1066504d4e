"""What a channel is given and what it answers.

A `Message` is already rendered and already passed the privacy filter: a channel only
delivers it. `deliver` never raises for a delivery problem; it answers a `Result` saying
whether to count it delivered, retry it (and after how long, if the receiver said), give up
on it for good, or stop using the endpoint.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol


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
