"""Simulated time over a history: records in order, a clock tick at every midnight.

Replay drives this directly; the streaming demo and the integration test produce the same
records and the same ticks (`tick_times`) to Kafka, so both see one sequence of inputs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from schemas.clock import Tick
from schemas.events import LearningEvent
from schemas.roster import Assignment, Intervention, LearnerProfile
from stream.core.policy import Policy
from stream.core.state import LearnerState
from stream.core.step import Output, step
from stream.core.weeks import day_start, local_date

Record = LearningEvent | LearnerProfile | Assignment | Intervention


def record_time(record: Record) -> dt.datetime | None:
    """When a record happened; profiles carry no time and apply at once."""
    if isinstance(record, LearningEvent):
        return record.occurred_at
    if isinstance(record, Assignment):
        return record.assigned_at
    if isinstance(record, Intervention):
        return record.at
    return None


def next_midnight(after: dt.datetime, policy: Policy) -> dt.datetime:
    """The first midnight (policy timezone) strictly after an instant."""
    day = local_date(after, policy.tz) + dt.timedelta(days=1)
    return day_start(day, policy.tz)


class Timeline:
    """Per-learner states advanced by records and by midnight ticks."""

    def __init__(self, policy: Policy, states: dict[str, LearnerState] | None = None) -> None:
        self.policy = policy
        self.states: dict[str, LearnerState] = {} if states is None else states
        self.next_tick: dt.datetime | None = None

    def apply(self, record: Record) -> list[Output]:
        """Tick up to the record's time (ticks at that very instant come first), then apply it."""
        at = record_time(record)
        out = self.advance(at) if at is not None else []
        if self.next_tick is None and at is not None:
            self.next_tick = day_start(local_date(at, self.policy.tz), self.policy.tz)
            if self.next_tick <= at:
                self.next_tick = next_midnight(at, self.policy)
        state, produced = step(self.states.get(record.learner_id), record, self.policy)
        self.states[record.learner_id] = state
        out.extend(produced)
        return out

    def advance(self, to: dt.datetime) -> list[Output]:
        """Send every tick due at or before `to`."""
        out: list[Output] = []
        while self.next_tick is not None and self.next_tick <= to:
            out.extend(self.tick(self.next_tick))
            self.next_tick = next_midnight(self.next_tick, self.policy)
        return out

    def tick(self, now: dt.datetime) -> list[Output]:
        """Evaluate every known learner as of `now`."""
        out: list[Output] = []
        tick = Tick(now=now, partition=0)
        for learner_id, state in self.states.items():
            self.states[learner_id], produced = step(state, tick, self.policy)
            out.extend(produced)
        return out


def default_until(last: dt.datetime, policy: Policy) -> dt.datetime:
    """A week after the last record, at midnight."""
    return day_start(local_date(last, policy.tz) + dt.timedelta(days=8), policy.tz)


def run_history(
    records: Iterable[Record], policy: Policy, until: dt.datetime | None = None
) -> Iterator[Output]:
    """Replay records in order with midnight ticks, then tick on to `until`."""
    timeline = Timeline(policy)
    last: dt.datetime | None = None
    for record in records:
        yield from timeline.apply(record)
        at = record_time(record)
        if at is not None and (last is None or at > last):
            last = at
    if until is None and last is not None:
        until = default_until(last, policy)
    if until is not None:
        yield from timeline.advance(until)
