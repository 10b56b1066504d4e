"""Simulated time over a history: records in order, a clock tick at every midnight.

Replay drives this directly; the streaming demo and the integration test produce the same
records and the same ticks (`tick_times`) to Kafka, so both see one sequence of inputs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from schemas.clock import Tick
from schemas.events import LearningEvent
from schemas.history import Record
from schemas.limits import LATEST
from schemas.roster import Assignment, Intervention
from stream.core.policy import Policy
from stream.core.state import LearnerState
from stream.core.step import Counted, Output, count_events, step
from stream.core.wakeups import WakeIndex, plain
from stream.core.weeks import END_OF_TIME, add_days, day_start, local_date


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
    """The first midnight (policy timezone) strictly after an instant; `END_OF_TIME` when
    that midnight is not an instant a tick can hold (the calendar's last days)."""
    today = local_date(after, policy.tz)
    day = add_days(today, 1)
    midnight = day_start(day, policy.tz)
    return midnight if day > today and midnight <= LATEST else END_OF_TIME


def schedule(
    records: Iterable[Record], policy: Policy, until: dt.datetime | None = None
) -> Iterator[Record | Tick]:
    """Records in their order, with a tick at every midnight from the first dated record
    (a tick at the very instant of a record comes first), then ticks on to `until`
    (default: a week after the last record). No tick is ever later than `until`, nor than
    the last instant a record can hold (`schemas.limits.LATEST`)."""
    return schedule_timed(((r, record_time(r)) for r in records), policy, until)


def schedule_timed(
    records: Iterable[tuple[Record, dt.datetime | None]],
    policy: Policy,
    until: dt.datetime | None = None,
) -> Iterator[Record | Tick]:
    """`schedule` for records that come with their `record_time`."""
    ticks = TickSchedule(policy, until)
    for record, at in records:
        if at is not None:
            for now in ticks.before(at):
                yield Tick(now=now, partition=0)
        yield record
    for now in ticks.rest():
        yield Tick(now=now, partition=0)


class TickSchedule:
    """The midnight ticks among a history's records (see `schedule`): asked before each
    dated record for the ticks due before it, then for the rest after the last one.

    Most records come between two midnights, and most in one fixed-offset zone (UTC, as
    parsed): the next tick is kept also in the zone of the record that asked last, so
    that the next record in that zone is compared with it as a wall time (an aware
    comparison across two zones costs several times more, a POSIX timestamp more still).
    For a zone whose offset depends on the instant (a `ZoneInfo`), wall times can tie
    or go back at a fold, so its records are compared as instants."""

    __slots__ = ("_here", "_zone", "last", "next_tick", "policy", "until")

    def __init__(self, policy: Policy, until: dt.datetime | None = None) -> None:
        self.policy = policy
        self.until = until
        self.next_tick: dt.datetime | None = None
        self.last: dt.datetime | None = None
        self._zone: dt.tzinfo | None = None  # a fixed-offset zone `_here` is written in
        self._here: dt.datetime | None = None  # `next_tick` in `_zone`

    def before(self, at: dt.datetime) -> list[dt.datetime]:
        """The ticks due before a record at `at` (a tick at its very instant comes first)."""
        last = self.last
        if last is None or at > last:  # the first of the latest instants is kept
            self.last = at
        zone = at.tzinfo
        if zone is self._zone and zone is not None:
            if at < self._here:  # type: ignore[operator]  # set with `_zone`
                return _NONE  # before the next midnight
        elif self.next_tick is not None and at < self.next_tick:
            return _NONE
        due: list[dt.datetime] = []
        next_tick, until = self.next_tick, self.until
        if next_tick is None:
            next_tick = next_midnight(at, self.policy)
        while next_tick <= at and (until is None or next_tick <= until):
            due.append(next_tick)
            next_tick = next_midnight(next_tick, self.policy)
        self.next_tick = next_tick
        self._zone, self._here = _written_in(next_tick, zone)
        return due

    def rest(self) -> Iterator[dt.datetime]:
        """The ticks after the last record, to `until` (default: a week after it)."""
        next_tick, last = self.next_tick, self.last
        if next_tick is None or last is None:
            return
        end = min(self.until or default_until(last, self.policy), LATEST)
        while next_tick <= end:
            yield next_tick
            next_tick = next_midnight(next_tick, self.policy)
        self.next_tick = next_tick


_NONE: list[dt.datetime] = []  # no tick due (never appended to)


def _written_in(
    tick: dt.datetime, zone: dt.tzinfo | None
) -> tuple[dt.tzinfo | None, dt.datetime | None]:
    """`tick` written in `zone` when that zone has one offset whatever the instant (its
    `utcoffset(None)`: a `ZoneInfo` has none), so that comparing a record of that zone
    with it compares wall times; (None, None) otherwise, or at the calendar's ends."""
    if zone is None or zone.utcoffset(None) is None:
        return None, None
    try:
        return zone, tick.astimezone(zone)
    except (OverflowError, ValueError):
        return None, None


class Timeline:
    """Per-learner states, advanced by records and ticks through `step`.

    A tick steps only the learners it can change (`stream.core.wakeups`, the index the
    worker's ticks use too); with `skip_quiet=False` it steps every learner. Both give the
    same states and outputs, in the same order."""

    def __init__(
        self,
        policy: Policy,
        states: dict[str, LearnerState] | None = None,
        skip_quiet: bool = True,
    ) -> None:
        self.policy = policy
        self.states: dict[str, LearnerState] = {} if states is None else states
        self.wakeups: WakeIndex | None = WakeIndex(policy) if skip_quiet else None
        if self.wakeups is not None:
            for learner_id, state in self.states.items():
                self.wakeups.recorded(learner_id, state, events_only=False)

    def feed(self, item: Record | Tick) -> list[Output]:
        """Apply a record to its learner, or a tick to every known learner."""
        if isinstance(item, Tick):
            return self.tick(item.now)
        learner_id = item.learner_id
        state = self.states.get(learner_id)
        wakeups = self.wakeups
        if wakeups is None:
            self.states[learner_id], produced = step(state, item, self.policy)
            return produced
        if state is None or not plain(item):
            state, produced = step(state, item, self.policy)
            self.states[learner_id] = state
            wakeups.recorded(learner_id, state, events_only=False)  # new, or due
            return produced
        marks = state.first_week, state.follow_up_due, state.tier  # see `stream.core.wakeups`
        state, produced = step(state, item, self.policy)
        self.states[learner_id] = state
        if marks != (state.first_week, state.follow_up_due, state.tier):
            wakeups.recorded(learner_id, state, events_only=True)  # else the index keeps it
        return produced

    def feed_counted(self, learner_id: str, events: list[Counted]) -> list[Output]:
        """Apply a run of events that only count in their weeks (`step.counts_only`) to a
        learner already known, as feeding each would (`step.count_events`)."""
        state = self.states[learner_id]
        marks = state.first_week, state.follow_up_due, state.tier
        produced = count_events(state, events)
        wakeups = self.wakeups
        if wakeups is not None and marks != (state.first_week, state.follow_up_due, state.tier):
            wakeups.recorded(learner_id, state, events_only=True)
        return produced

    def tick(self, now: dt.datetime) -> list[Output]:
        """Evaluate every known learner as of `now` (skipping those it cannot change)."""
        out: list[Output] = []
        tick = Tick(now=now, partition=0)
        states, policy, wakeups = self.states, self.policy, self.wakeups
        if wakeups is None:
            for learner_id, state in states.items():
                states[learner_id], produced = step(state, tick, policy)
                out.extend(produced)
            return out
        for learner_id in wakeups.take(now):
            state, produced = step(states[learner_id], tick, policy)
            states[learner_id] = state
            wakeups.stepped(learner_id, state, now)
            out.extend(produced)
        return out


def default_until(last: dt.datetime, policy: Policy) -> dt.datetime:
    """A week after the last record, at midnight (saturating at the calendar's end)."""
    return day_start(add_days(local_date(last, policy.tz), 8), policy.tz)


def run_history(
    records: Iterable[Record],
    policy: Policy,
    until: dt.datetime | None = None,
    timeline: Timeline | None = None,
) -> Iterator[Output]:
    """Replay records with midnight ticks (see `schedule`) and yield what they cause."""
    timeline = timeline or Timeline(policy)
    for item in schedule(records, policy, until):
        yield from timeline.feed(item)
