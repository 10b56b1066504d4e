"""The one wake-up index: which learners a clock tick must step, for replay and the worker.

Most days a tick can change nothing for most learners (`quiet_until` in `stream.core.due`
says until when), and stepping them is a no-op. Like bytewax's `notify_at`, once a tick
has stepped a learner the index knows the next instant the learner wants to be woken, and
a tick steps only the learners whose instant has come or whose records since may bring it
nearer. `tierwatch replay` (`stream.core.timeline.Timeline`) and the worker's tick
(`stream.worker.agents.ticks`, one partition at a time) both ask this index; the property tests
check it against stepping every learner at every tick (same outputs, order and states).

The rules, one set for both:

- A learner the index has not seen is due at the next tick: new in replay, or known to a
  worker only by its table's keys (after a restart or a rebalance, `take(known=...)`).
- A learner stepped by a tick at `now` sleeps until `quiet_until(state, now)`. One never
  evaluated (a profile alone) sleeps `REFRESH` at most: the worker rewrites such a state
  whenever it steps it, so that it outlives the changelog's retention (in replay the step
  changes nothing).
- A profile, an assignment, an intervention or a voided event can make a condition hold
  at once (a new role's thresholds, an assignment already overdue, a `resolved`, a
  voided completion that reopens its assignment): due at the next tick.
- Other events can set the first week to evaluate, complete assignments (which only takes
  deadline days away) or raise the tier (which sets the follow-up). While the first week,
  the follow-up and the tier (the marks) are what the wake-up was computed from, it
  stands; otherwise it is computed again as of the learner's last tick. Over events alone
  the first week only moves earlier and the tier only rises (the follow-up with it), so
  marks equal after a batch of events were equal all along: a caller that applied one
  event and saw the marks unchanged may leave `recorded` uncalled (`Timeline.feed` does).

A tick takes the due learners in the order the index first saw them (the order a tick over
everyone gives their transitions in) and calls `stepped` for each, which stores the learner's
tier too: a worker counts a partition's learners by tier without loading them.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from schemas.events import LearningEvent
from stream.core.due import quiet_until
from stream.core.policy import Policy
from stream.core.state import LearnerState
from stream.core.weeks import shifted


def plain(record: object) -> bool:
    """An event that is not a voided one: it can only move a learner's wake-up through its
    marks (see the module)."""
    return isinstance(record, LearningEvent) and record.retracts is None


REFRESH = dt.timedelta(days=7)  # the longest a never-evaluated learner sleeps

Marks = tuple[int | None, dt.date | None, int]  # first week, follow-up, tier


@dataclass(slots=True)
class _Partition:
    """The wake-ups of one partition's learners (replay has one partition, 0)."""

    heap: list[tuple[float, int, str]] = field(default_factory=list)  # (instant, rank, id)
    due: set[str] = field(default_factory=set)  # stepped at the next tick whatever its time
    members: set[str] = field(default_factory=set)


@dataclass(slots=True, eq=False)
class _Learner:
    part: _Partition
    tier: int | None = None  # as of the last state seen (None: none seen yet)
    last_tick: dt.datetime | None = None  # the last tick that stepped the learner
    until: float | None = None  # the wake-up in the heap, POSIX seconds (None: none)
    marks: Marks | None = None  # what `until` was computed from (None: due, or none)


def _no_partitions(learner_id: str) -> int:
    return 0


class WakeIndex:
    """When each learner next needs a tick (see the module docstring).

    `partition_of` names a learner's partition (the worker's: the learner table's); a
    replay has one partition, 0."""

    def __init__(self, policy: Policy, partition_of: Callable[[str], int] = _no_partitions) -> None:
        self.policy = policy
        self.partition_of = partition_of
        self.learners: dict[str, _Learner] = {}
        self.ranks: dict[str, int] = {}  # the order the index first saw each learner in
        self.partitions: dict[int, _Partition] = {}
        self._next_rank = 0

    def __contains__(self, learner_id: object) -> bool:
        return learner_id in self.learners

    def recorded(self, learner_id: str, state: LearnerState, events_only: bool) -> None:
        """Records were applied to the learner since they were last stepped or recorded
        (`events_only`: events and nothing else, none voided: see `plain`); `state` is
        their state now."""
        learner = self.learners.get(learner_id)
        if learner is None:
            learner = self._add(learner_id, self.partition_of(learner_id))
            learner.tier = state.tier
            learner.part.due.add(learner_id)
            return
        learner.tier = state.tier
        if not events_only or learner.marks is None or learner.last_tick is None:
            self._wake(learner_id, learner)
            return
        marks = (state.first_week, state.follow_up_due, state.tier)
        if marks != learner.marks:  # the wake-up may come sooner: as of the last tick
            learner.marks = marks
            self._sleep(learner_id, learner, state, learner.last_tick)

    def take(
        self, now: dt.datetime, partition: int = 0, known: Collection[str] | None = None
    ) -> list[str]:
        """The learners of `partition` a tick at `now` must step, in the order the index
        first saw them; the caller steps each and calls `stepped`. `known`: the learners
        the caller holds in the partition (a worker's table keys): those the index has not
        seen are due (ranked in this order), those it has but the caller has not are
        forgotten."""
        part = self.partitions.get(partition)
        if part is None:
            part = self.partitions[partition] = _Partition()
        if known is not None:
            self._hold(part, partition, known)
        seconds = now.timestamp()
        heap, due, learners = part.heap, part.due, self.learners
        while heap and heap[0][0] <= seconds:
            ends, _, learner_id = heapq.heappop(heap)
            learner = learners.get(learner_id)
            if learner is not None and learner.until == ends:  # else since replaced
                learner.until = learner.marks = None
                due.add(learner_id)
        taken = sorted(due, key=self.ranks.__getitem__)
        due.clear()
        return taken

    def stepped(self, learner_id: str, state: LearnerState, now: dt.datetime) -> None:
        """A tick at `now` stepped the learner: asleep until its next wake-up."""
        learner = self.learners.get(learner_id)
        if learner is None:
            learner = self._add(learner_id, self.partition_of(learner_id))
        learner.tier = state.tier
        learner.last_tick = now
        learner.marks = (state.first_week, state.follow_up_due, state.tier)
        self._sleep(learner_id, learner, state, now)

    def tier(self, learner_id: str) -> int | None:
        """The tier of the learner's latest state the index was told of."""
        learner = self.learners.get(learner_id)
        return None if learner is None else learner.tier

    def tiers(self, partition: int) -> Counter[int]:
        """The partition's learners by tier (those whose state the index was told of)."""
        part = self.partitions.get(partition)
        learners = self.learners
        tiers: Counter[int] = Counter()
        for learner_id in part.members if part is not None else ():
            tier = learners[learner_id].tier
            if tier is not None:
                tiers[tier] += 1
        return tiers

    def forget(self, learner_id: str) -> None:
        """Drop a learner (erased, or their state could not be stepped or stored): seen
        again, they are due at the next tick."""
        learner = self.learners.pop(learner_id, None)
        if learner is None:
            return
        del self.ranks[learner_id]
        learner.part.due.discard(learner_id)
        learner.part.members.discard(learner_id)  # its heap entries are skipped when due

    def clear(self) -> None:
        """Forget every learner (a worker's partitions were revoked)."""
        self.learners.clear()
        self.ranks.clear()
        self.partitions.clear()

    def _add(self, learner_id: str, partition: int) -> _Learner:
        part = self.partitions.get(partition)
        if part is None:
            part = self.partitions[partition] = _Partition()
        learner = self.learners[learner_id] = _Learner(part)
        self.ranks[learner_id] = self._next_rank
        self._next_rank += 1
        part.members.add(learner_id)
        return learner

    def _wake(self, learner_id: str, learner: _Learner) -> None:
        """Due at the next tick (an entry in the heap is skipped when it comes due)."""
        learner.until = learner.marks = None
        learner.part.due.add(learner_id)

    def _hold(self, part: _Partition, partition: int, known: Collection[str]) -> None:
        keys = known if isinstance(known, set | frozenset) else set(known)
        for learner_id in part.members - keys:
            self.forget(learner_id)
        learners = self.learners
        for learner_id in known:
            if learner_id not in learners:
                self._add(learner_id, partition)
                part.due.add(learner_id)

    def _sleep(
        self, learner_id: str, learner: _Learner, state: LearnerState, since: dt.datetime
    ) -> None:
        """Schedule the learner's wake-up as of a tick at `since`."""
        ends = quiet_until(state, since, self.policy)
        if state.evaluated_week is None:
            refresh = shifted(since, REFRESH)
            ends = refresh if ends is None else min(ends, refresh)
        if ends is None:
            learner.until = None
            return
        seconds = ends.timestamp()
        if seconds != learner.until:  # else that entry is in the heap already
            learner.until = seconds
            heapq.heappush(learner.part.heap, (seconds, self.ranks[learner_id], learner_id))
