"""Which event times the pipeline takes: a window around the clock that received them.

An event dated more than the policy's `events.max_skew_minutes` after the moment it was
received comes from a wrong clock; one dated more than `events.max_age_days` before it
can change nothing but a new learner's first week, and a date far off either way (year
9999, year 1) only makes every later computation work for nothing. Both are refused:
with a 4xx problem at ingest, as a dead letter on the stream, and as a skipped line in
`tierwatch replay`, with the sentence this module writes.

Pure: the caller says what "received" means (ingest's clock; the broker's timestamp of a
record on the stream; in replay the history's own clock, see `stream.replay`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from stream.core.policy import Policy

TimeReason = Literal["event_in_the_future", "event_too_old"]


@dataclass(frozen=True, slots=True)
class TimeProblem:
    """Why an event's time is refused: a machine-readable reason and a sentence naming
    the field, how far off it is and the policy setting it breaks."""

    reason: TimeReason
    detail: str


def event_time_problem(
    occurred_at: dt.datetime, received_at: dt.datetime, policy: Policy
) -> TimeProblem | None:
    """Why an event dated `occurred_at`, received at `received_at` (both aware), is
    refused; None when its time is inside the policy's window. Never raises (any two aware
    datetimes: their difference always fits a timedelta)."""
    return too_far_ahead(occurred_at, received_at, policy) or too_old(
        occurred_at, received_at, policy
    )


def too_far_ahead(
    occurred_at: dt.datetime, received_at: dt.datetime, policy: Policy
) -> TimeProblem | None:
    """The upper half of the window: more than `max_skew_minutes` after `received_at`."""
    limit = policy.events.max_skew_minutes
    ahead = occurred_at - received_at
    if ahead <= dt.timedelta(minutes=limit):
        return None
    return TimeProblem(
        "event_in_the_future",
        f"occurred_at is {_span(ahead)} after the event was received "
        f"(events.max_skew_minutes: {limit:g}): check the sender's clock",
    )


def too_old(
    occurred_at: dt.datetime, received_at: dt.datetime, policy: Policy
) -> TimeProblem | None:
    """The lower half of the window: more than `max_age_days` before `received_at`."""
    limit = policy.events.max_age_days
    behind = received_at - occurred_at
    if behind <= dt.timedelta(days=limit):
        return None
    return TimeProblem(
        "event_too_old",
        f"occurred_at is {_span(behind)} before the event was received "
        f"(events.max_age_days: {limit})",
    )


def _span(delta: dt.timedelta) -> str:
    """A positive duration for a person: years, days, minutes or seconds."""
    if delta >= dt.timedelta(days=730):
        return f"about {delta.days / 365.2425:.0f} years"
    if delta >= dt.timedelta(days=1):
        return f"{delta.days} days"
    minutes = delta.total_seconds() / 60
    return f"{minutes:.0f} minutes" if minutes >= 1 else f"{delta.total_seconds():.0f} seconds"
