"""A message that could not be processed, kept with the reason so nothing is silently lost.

The payload keeps only what diagnosis needs (`stream.scrub`): personal fields are removed
or pseudonymised before a dead letter is written."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class DeadLetter(BaseModel):
    """Where the message came from, why it was refused, and the message itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str  # the input topic, or "http:METHOD PATH" for a refused HTTP request
    partition: int | None = None  # None for an HTTP request
    offset: int | None = None
    key: str | None
    reason: str  # machine-readable: not_json, invalid_fields, key_mismatch, ...
    detail: str  # for a person: which field, what was wrong
    payload: str  # the message scrubbed of personal data (stream.scrub), as text, capped in size
    at: AwareDatetime  # when it was refused
    problems: list[dict[str, str]] = Field(default_factory=list)  # {pointer, detail} each
    # `tierwatch dlq redrive` can bring it back: a dispatch delivery parked in the learner's
    # dispatch state (the payload names it; the rendered message is not in the letter)
    redrivable: bool = False
