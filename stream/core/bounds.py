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
from dataclasses import dataclass, field
from typing import Literal

from stream.core.policy import Policy
from stream.core.weeks import END_OF_TIME, START_OF_TIME, shifted

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


LOOKAHEAD = 256  # history lines read ahead to set a history's clock before its first line


@dataclass(slots=True)
class HistoryWindow:
    """The window over a history file, which has no receiving clock of its own: its lines
    come in the order they were received, so the history keeps its own clock, the newest
    event time taken so far, and an event is refused when it lies further from that clock
    than the policy lets a stream's clock be from it:

    - older than `max_age_days` (plus the skew) before it, as a stream refuses an event
      that old when it arrives (it arrived after the newest one, less the skew);
    - newer than `max_age_days` (plus the skew) after it: a line that would move the
      history's clock that far at once, past every later line (a year-9999 event), which
      the broker's clock of a stream would have refused as well.

    The first lines have no clock yet: it starts at the first of the first `LOOKAHEAD`
    events that lies within the window of their median, so a far-off first line is
    refused all the same (a history so sparse that its first `LOOKAHEAD` events span more
    than twice the window would lose its earliest ones). `stream.replay` uses this; it
    never raises. Every event of a replay passes here: the limits are kept
    as instants, and a problem's sentence is only written for a refused event."""

    policy: Policy
    newest: dt.datetime | None = None
    _span: dt.timedelta = field(init=False)
    _floor: dt.datetime = field(init=False, default=END_OF_TIME)  # empty until a clock
    _ceiling: dt.datetime = field(init=False, default=START_OF_TIME)

    def __post_init__(self) -> None:
        events = self.policy.events
        self._span = dt.timedelta(days=events.max_age_days, minutes=events.max_skew_minutes)

    def _move(self, at: dt.datetime) -> None:
        self.newest = at
        try:
            self._floor, self._ceiling = at - self._span, at + self._span
        except OverflowError:
            self._floor, self._ceiling = shifted(at, -self._span), shifted(at, self._span)

    def look_ahead(self, times: list[dt.datetime]) -> None:
        """Set the history's clock from the times of its first events, in their order: the
        first one within the window of their median (a far-off first line is not)."""
        if not times:
            return
        median = sorted(times)[(len(times) - 1) // 2]
        self._move(next(t for t in times if abs(t - median) <= self._span))

    def problem(self, occurred_at: dt.datetime) -> TimeProblem | None:
        """Why an event of the history is refused (None: taken, and the clock moves on)."""
        if self._floor <= occurred_at <= self._ceiling:
            if occurred_at > self.newest:  # type: ignore[operator]  # set with the bounds
                self._move(occurred_at)
            return None
        newest = self.newest
        if newest is None:
            self._move(occurred_at)
            return None
        events, span = self.policy.events, _span(abs(occurred_at - newest))
        side = "after" if occurred_at > newest else "before"
        return TimeProblem(
            "event_in_the_future" if side == "after" else "event_too_old",
            f"occurred_at is {span} {side} the history's newest event so far "
            f"(events.max_age_days: {events.max_age_days}, "
            f"events.max_skew_minutes: {events.max_skew_minutes:g})",
        )
